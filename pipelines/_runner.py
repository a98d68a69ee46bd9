"""The run loop shared by the ready pipelines: workflow → tensors → loader → train → evaluate → baseline.

Each stage is timed with :class:`gpupipe.bench.StageTimer` (device synchronised at each
clock read) and watched by :func:`gpupipe.audit.transfers`, so a run reports where the time went
and every host<->device copy it made.

Threads on the CPU (frames on pandas, training on the CPU): the model trains and is evaluated with
:data:`CPU_TRAIN_THREADS` torch intra-op thread(s), and the classic-ML baseline, which needs only the
workflow's output, is fitted in a second thread at the same time (its BLAS/OpenMP pools limited to
one thread), so the two share the cores instead of queueing. The ``baseline`` stage is then the wait
for it after evaluation; its own duration is ``extra["baseline_fit_seconds"]``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gpupipe as gp

__all__ = ["CPU_TRAIN_THREADS", "Spec", "resolve", "run_pipeline"]

#: torch intra-op threads for training and evaluation on the CPU. One: the baseline fits on the other
#: core meanwhile; an OpenMP team never waits for a core another process holds (a flights epoch took
#: 25-30 s instead of 1.3-2 s with two threads on the loaded 2-core build machine); and the weights are
#: the same on any number of cores.
CPU_TRAIN_THREADS = 1


@dataclass
class Spec:
    """What a pipeline plugs into :func:`run_pipeline`."""

    name: str
    #: () -> (train_frame, val_frame), both holding the label column; runs under the chosen backend.
    load: Callable[[], tuple[Any, Any]]
    #: () -> an unfitted gp.Workflow
    workflow: Callable[[], Any]
    #: (schema) -> torch.nn.Module
    model: Callable[[Any], Any]
    batch_size: int = 4096
    val_batch_size: int = 65536
    lr: float = 1e-3
    baseline: str | None = "logistic"
    baseline_params: dict[str, Any] = field(default_factory=dict)
    #: what the data is (the real table, or how many rows were generated or resampled, with which seed)
    data: str = ""


def resolve(backend: str | None, device: str | None) -> tuple[str, str | None]:
    """Map the user's backend name to (frame backend, torch device). ``hybrid`` = pandas frames, CUDA training;
    None = the active backend (``gp.set_backend`` / ``gp.use_backend`` / ``GPUPIPE_BACKEND``, else detection)."""
    if backend is None:
        return gp.get_backend().name, device
    if backend == "hybrid":
        return "pandas", device or "cuda"
    if backend not in ("auto", "cudf", "pandas"):
        msg = f"backend {backend!r} is not one of 'auto', 'cudf', 'pandas', 'hybrid'"
        raise ValueError(msg)
    return backend, device


@contextlib.contextmanager
def _stage(timer: Any, audits: dict[str, Any], name: str, cuda: bool) -> Iterator[None]:
    with gp.audit.transfers(cuda=cuda) as report, timer.stage(name):
        yield
    audits[name] = report


def _audit_dict(report: Any) -> dict[str, Any]:
    return {"h2d_bytes": int(report.h2d_bytes), "d2h_bytes": int(report.d2h_bytes),
            "shared": list(report.shared), "copied": dict(report.copied)}


def run_pipeline(spec: Spec, *, backend: str | None = None, device: str | None = None, epochs: int = 1,
                 seed: int = 0, progress: bool = True, out: str | Path | None = None,
                 audit_cuda: bool | None = None) -> gp.bench.PipelineResult:
    """Run ``spec`` end to end and return timings, metrics, baseline metrics and the transfer audit."""
    frame_backend, device = resolve(backend, device)
    if out is not None:  # its outputs are written at the end: a place they cannot go is refused now
        gp.bench.check_out_dir(out, f"{spec.name} run")
    timer = gp.bench.StageTimer()
    audits: dict[str, Any] = {}
    with gp.use_backend(frame_backend) as be:
        device_name = str(device) if device is not None else (be.device if be.is_gpu else "cpu")
        if device_name.split(":")[0] == "cpu" and not be.is_gpu:
            # torch (and the baseline's scikit-learn) are first needed after the workflow: a second
            # thread imports them while this one reads and prepares the data (Arrow and pandas release the GIL)
            _prefetch_imports(["torch", *_baseline_imports(spec.baseline)])
        cuda = device_name.split(":")[0] == "cuda" if audit_cuda is None else audit_cuda
        if progress:
            print(f"[{spec.name}] backend={be.name} frames on {be.device}, training on {device_name}",
                  file=sys.stderr)

        with _stage(timer, audits, "read", cuda):
            train_frame, val_frame = spec.load()
        wf = spec.workflow()
        with _stage(timer, audits, "fit", cuda):
            train_out = wf.fit_transform(train_frame)
        with _stage(timer, audits, "transform", cuda):
            val_out = wf.transform(val_frame)
        schema = wf.output_schema
        stages = model_stages(spec, schema, train_out, val_out, lambda: (train_out, val_out),
                              stage=lambda name: _stage(timer, audits, name, cuda), device=device_name,
                              frames_on_gpu=be.is_gpu, seed=seed, epochs=epochs, progress=progress,
                              prefetch_plot=out is not None)
        result, metrics, baseline, fit_seconds = stages.result, stages.metrics, stages.baseline, stages.fit_seconds
        torch_device, rows_seen, baseline_job = stages.device, stages.rows_seen, stages.overlapped
        timings = dict(timer.times)
        timings["total"] = timer.total()
        res = gp.bench.PipelineResult(
            pipeline=spec.name, backend=be.name, device=str(torch_device),
            rows={"train": len(train_out), "val": len(val_out), "loader_epoch": int(rows_seen)},
            metrics={k: float(v) for k, v in metrics.items()}, baseline=baseline, timings=timings,
            audit={k: _audit_dict(v) for k, v in audits.items()},
            history=[dict(h) for h in result.history],
            extra={"schema": schema.to_dict(), "epochs": epochs, "seed": seed, "batch_size": spec.batch_size,
                   "lr": spec.lr, "baseline_kind": spec.baseline, "loss_curve": list(result.loss_curve),
                   "train_threads": CPU_TRAIN_THREADS if torch_device.type == "cpu" else None,
                   "baseline_fit_seconds": fit_seconds, "baseline_overlapped": baseline_job, "data": spec.data},
        )
        if out is not None:
            _write_outputs(res, wf, result, Path(out))
        res.extra["audit_text"] = {k: str(v) for k, v in audits.items()}
        return res


@dataclass
class ModelStages:
    """What :func:`model_stages` returns."""

    result: Any  #: gp.train's TrainResult
    metrics: dict[str, Any]
    baseline: dict[str, float]
    fit_seconds: float | None  #: the baseline's own fit + scoring seconds
    device: Any  #: the torch device trained on
    rows_seen: int  #: rows of the timed loader-only epoch
    overlapped: bool  #: whether the baseline was fitted during training
    copies: dict[str, Any]  #: columns converted on the way to tensors (TensorTable.copies)


def model_stages(spec: Spec, schema: Any, train_data: Any, val_data: Any, baseline_frames: Callable[[], tuple[Any, Any]],
                 *, stage: Callable[[str], Any], device: str, frames_on_gpu: bool, seed: int, epochs: int,
                 progress: bool, prefetch_plot: bool = False) -> ModelStages:
    """The stages after the data preparation, the same for every way of preparing it (the Workflow on
    pandas or cuDF, Polars in ``gpupipe bench``): ``to_tensors``, ``loader_epoch`` (one loader-only pass),
    ``train``, ``evaluate`` and ``baseline``, each timed in ``stage(name)``.

    ``train_data``/``val_data`` go to tensors; ``baseline_frames()`` gives the frames the classic-ML
    baseline fits and scores. On the CPU the model trains with :data:`CPU_TRAIN_THREADS` torch thread(s)
    while the baseline fits in a second thread, and ``baseline`` is the wait for it after evaluation;
    what that thread records in the transfer audit (the Polars entry's conversion of its frames to
    pandas) then falls in the stages open while it runs (``train``, ``evaluate``)."""
    import torch

    torch_device = torch.device(device)
    with stage("to_tensors"):
        train_tt = gp.to_tensors(train_data, schema=schema, device=torch_device)
        val_tt = gp.to_tensors(val_data, schema=schema, device=torch_device)
    train_loader = gp.Loader(train_tt, batch_size=spec.batch_size, shuffle=True, seed=seed)
    val_loader = gp.Loader(val_tt, batch_size=spec.val_batch_size, shuffle=False)
    with stage("loader_epoch"):
        rows_seen = sum(len(b) for b in train_loader)
    train_loader.set_epoch(0)  # the timed pass above must not shift the training shuffle
    on_cpu = torch_device.type == "cpu" and not frames_on_gpu

    def fit_baseline() -> tuple[dict[str, float], float]:
        train_frame, val_frame = baseline_frames()
        return _fit_baseline(spec, train_frame, val_frame, schema)

    baseline_job = _Background(fit_baseline) if spec.baseline and on_cpu else None
    if prefetch_plot and on_cpu:
        # the report's plot library, imported on the core the baseline frees while the model trains
        _prefetch_imports(list(_PLOT_IMPORTS), after=baseline_job.thread if baseline_job else None)
    torch.manual_seed(seed)
    model = spec.model(schema).to(torch_device)
    threads = CPU_TRAIN_THREADS if torch_device.type == "cpu" else None
    with stage("train"):
        result = gp.train(model, train_loader, epochs=epochs, lr=spec.lr, seed=seed, progress=progress,
                          threads=threads)
    with stage("evaluate"):
        metrics = gp.evaluate(result.model, val_loader, threads=threads)
    baseline: dict[str, float] = {}
    fit_seconds = None
    if baseline_job is not None:
        with stage("baseline"):  # what is left of it after evaluation
            baseline, fit_seconds = baseline_job.result()
    elif spec.baseline:
        with stage("baseline"):
            baseline, fit_seconds = fit_baseline()
    return ModelStages(result, metrics, baseline, fit_seconds, torch_device, int(rows_seen),
                       baseline_job is not None, {**val_tt.copies, **train_tt.copies})


def _baseline_imports(kind: str | None) -> tuple[str, ...]:
    """What gpupipe.baselines imports to fit ``kind`` on the pandas backend (prefetched on the CPU)."""
    if not kind:
        return ()
    return ("scipy.sparse", "sklearn.linear_model", *(("sklearn.ensemble",) if kind == "random_forest" else ()))


def _prefetch_imports(modules: list[str], after: Any = None) -> None:
    """Import ``modules`` in a daemon thread (once thread ``after`` has finished, if given); a failure is
    left for the main thread's own import to report."""
    import importlib
    import threading

    def work() -> None:
        if after is not None:
            after.join()
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the main thread's own import reports it
                return

    threading.Thread(target=work, name="gpupipe-prefetch-imports", daemon=True).start()


def _fit_baseline(spec: Spec, train_out: Any, val_out: Any, schema: Any) -> tuple[dict[str, float], float]:
    """The baseline's validation metrics and the seconds its fit and scoring took."""
    import time

    t0 = time.perf_counter()
    base = gp.baselines.fit(train_out, schema, kind=spec.baseline, **spec.baseline_params)
    scores = {k: float(v) for k, v in base.score(val_out).items()}
    return scores, time.perf_counter() - t0


class _Background:
    """``fn(*args)`` in a daemon thread whose BLAS and OpenMP pools are limited to one thread, in a copy of
    the caller's context (so under the caller's ``gp.use_backend``); ``result()`` waits for it and returns
    its value or raises its exception in the caller's thread."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        import contextvars
        import threading

        self._box: dict[str, Any] = {}
        context = contextvars.copy_context()

        def work() -> None:
            try:
                with _one_thread_pools():
                    self._box["value"] = context.run(fn, *args)
            except BaseException as exc:  # re-raised by result()
                self._box["error"] = exc

        self._thread = threading.Thread(target=work, name="gpupipe-baseline", daemon=True)
        self._thread.start()

    @property
    def thread(self) -> Any:
        """The thread running ``fn``."""
        return self._thread

    def result(self) -> Any:
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["value"]


def _one_thread_pools() -> Any:
    """threadpoolctl's one-thread limit (scikit-learn's dependency) where it is installed, else nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _write_outputs(res: gp.bench.PipelineResult, wf: Any, train_result: Any, out: Path) -> None:
    """result.json, workflow/, model/ and training.png, put in place together (those of a previous run stay
    until all four are written)."""

    def save_workflow(path: Path) -> None:
        try:
            wf.save(path)
        except gp.WorkflowFormatError as exc:  # a workflow holding a LambdaOp cannot be saved; say so, keep going
            print(f"workflow not saved: {exc}", file=sys.stderr)

    gp.bench.write_outputs(out, {"result.json": res.to_json, "workflow": save_workflow,
                                 "model": lambda path: gp.save_checkpoint(train_result.model, path),
                                 "training.png": lambda path: _plot_history(res, path)})


#: what :func:`_plot_history` imports (prefetched during training on the CPU)
_PLOT_IMPORTS = ("matplotlib.figure", "matplotlib.backends.backend_agg")


def _plot_history(res: gp.bench.PipelineResult, path: Path) -> None:
    # The Figure API, not pyplot: no global figure state or GUI backend selection, safe in any thread.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    curve = res.extra.get("loss_curve") or [h.get("train_loss") for h in res.history]
    axes[0].plot(range(1, len(curve) + 1), curve, marker="o" if len(curve) < 30 else None)
    axes[0].set_xlabel("epoch" if not res.extra.get("loss_curve") else "step")
    axes[0].set_ylabel("training loss")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in res.metrics.items() if k in ("auc", "rmse"))
    axes[0].set_title(f"{res.pipeline}: training" + (f" (validation {shown})" if shown else ""))
    stages = [k for k in res.timings if k != "total"]
    axes[1].barh(stages, [res.timings[k] for k in stages], color="#4c72b0")
    axes[1].invert_yaxis()
    axes[1].set_xlabel("seconds")
    axes[1].set_title(f"stages on {res.backend}/{res.device} (total {res.timings['total']:.2f} s)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
