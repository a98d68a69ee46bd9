"""Training: the train loop, on-device metrics, early stopping and checkpoints.

``gp.train(model, loader, val=...)`` returns a :class:`TrainResult`; ``gp.evaluate`` and
``gp.predict`` score a model; ``gp.save_checkpoint`` / ``gp.load_checkpoint`` write and read a
state_dict + JSON checkpoint. Importing this module imports torch (``import gpupipe`` does not).
"""

from __future__ import annotations

from .checkpoint import checkpoint_info, load_checkpoint, save_checkpoint
from .loop import EarlyStopping, TrainResult, evaluate, predict, train
from .metrics import accuracy, compute_metrics, log_loss, mae, rmse, roc_auc

__all__ = [
    "EarlyStopping",
    "TrainResult",
    "accuracy",
    "checkpoint_info",
    "compute_metrics",
    "evaluate",
    "load_checkpoint",
    "log_loss",
    "mae",
    "predict",
    "rmse",
    "roc_auc",
    "save_checkpoint",
    "train",
]
