"""Scoring new data with a saved workflow and model: :func:`batch_predict` and ``gpupipe predict``.

The data is read as a :class:`gpupipe.Dataset` (files, globs, directories; frames too) and scored
one partition at a time: transform by the workflow, batches by :class:`gpupipe.Loader`, scores by
:func:`gpupipe.predict`, then the partition's key columns and scores are appended to the output.
Only one partition is held at a time, so data larger than memory is scored in flat memory (choose
``partition_rows`` for large single files). Everything that can be checked is checked before the
first partition is read: the model against the workflow's output schema, the columns the
workflow reads and the key columns against the data's columns, the output's format.

The output holds the key columns as they are in the input, then ``prediction`` (float32: the
probability of the positive class for binary models, the predicted value for regression), one row
per input row in input order (a workflow op that drops rows, such as ``Dropna``, drops its rows'
predictions too: give keys to tell which rows were scored; a partition left with no rows adds none, and
the run goes on). Files are written atomically
(a temporary file beside the target, renamed over it when complete).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .backend import backend_of
from .backend import frame as F
from .errors import DataError, ParameterError, SchemaError

__all__ = ["PREDICTION", "batch_predict", "check_model_matches"]

#: Name of the score column in the output.
PREDICTION = "prediction"
_PARQUET = (".parquet", ".parq", ".pq")


def _output_format(path: str | os.PathLike) -> str:
    name = os.fspath(path).lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(".csv.gz"):
        return "csv.gz"
    if name.endswith(".csv"):
        return "csv"
    msg = f"cannot tell the output format of {os.fspath(path)!r}; name it *.parquet or *.csv (or *.csv.gz)"
    raise ParameterError(msg)


def _check_output_path(path: str | os.PathLike) -> None:
    """Where the scores go, checked before any partition is read: a local path must not be a directory nor lie
    under a file (a URL is checked by its store when the upload reaches it)."""
    from . import _validate as V
    from .io._sources import is_url

    if is_url(os.fspath(path)):
        return
    p = os.path.abspath(os.fspath(path))
    if os.path.isdir(p):
        V.fail("batch_predict", "out", path, "a file path (*.parquet, *.csv, *.csv.gz)", f"{p} is a directory")
    V.output_dir(os.path.dirname(p), "out", "batch_predict")  # its folder: not a file, nor under one; writable


def _check_output_not_input(path: str | os.PathLike, data: Any) -> None:
    """A local output file that is one of the files being scored would replace that data with its scores (and,
    left among them, be read back as data by the next run over the same directory or glob): refused by name."""
    from . import _validate as V
    from .io._sources import expand, is_url

    if is_url(os.fspath(path)) or not os.path.isfile(path):
        return
    if not (isinstance(data, (str, os.PathLike)) or (isinstance(data, (list, tuple)) and data
                                                     and all(isinstance(d, (str, os.PathLike)) for d in data))):
        return
    for src in expand(data, formats=("parquet", "csv"), reader="batch_predict"):
        if not src.remote and os.path.samefile(src.path, path):
            V.fail("batch_predict", "out", path, "a file that is not among the data being scored",
                   f"{src.path} is one of the data's files, and writing the scores there would replace it (or add "
                   "the scores to the data of the next run). Write them outside the data's files and directories")


def _features(schema: Any) -> tuple[list[str], list[str], dict[str, int]]:
    return list(schema.cont), list(schema.cat), {c: int(n) for c, n in schema.cardinalities.items()}


def check_model_matches(workflow: Any, model: Any) -> None:
    """SchemaError naming the differences when ``model`` was not built for ``workflow``'s output.

    The model's columns (its checkpoint's schema, else its ``cont_names``/``cat_names``/
    ``cardinalities``) must be the workflow's ``cont`` and ``cat`` columns, in order, with the same
    cardinalities: a model trained on another vocabulary would read every id wrongly. A module that
    records none of these is not checked.
    """
    want_cont, want_cat, want_cards = _features(workflow.output_schema)
    schema = getattr(model, "schema", None)
    if schema is not None and hasattr(schema, "cardinalities"):
        cont, cat, cards = _features(schema)
    elif hasattr(model, "cat_names") and hasattr(model, "cardinalities"):
        cont = list(getattr(model, "cont_names", []))
        cat = list(model.cat_names)
        cards = {c: int(n) for c, n in zip(cat, model.cardinalities, strict=False)}
    else:
        return
    problems = []
    if cont != want_cont:
        problems.append(f"continuous columns: the model takes {cont}, the workflow outputs {want_cont}")
    if cat != want_cat:
        problems.append(f"categorical columns: the model takes {cat}, the workflow outputs {want_cat}")
    differ = {c: (cards[c], want_cards[c]) for c in cat if c in want_cards and cards.get(c) != want_cards[c]}
    if differ:
        detail = ", ".join(f"{c!r} model {m} / workflow {w}" for c, (m, w) in differ.items())
        problems.append(f"cardinalities differ ({detail}): the vocabularies are not the ones the model was trained on")
    if schema is not None and hasattr(schema, "cardinalities"):
        # as many ids, but of another fit of the workflow (refit on other data): the ids name other values
        want = workflow.output_schema
        refit = [c for c in cat if c in want_cards and c not in differ and c in schema and c in want
                 and schema[c].other_fit(want[c])]
        if refit:
            problems.append(f"the ids of {refit} are of another fit or other boundaries than the model's (the "
                            "workflow was fitted again, or its Bucketize boundaries changed: the same number of ids, "
                            "naming other values)")
    if problems:
        msg = ("the model does not match the workflow: " + "; ".join(problems)
               + ". Score with the workflow the model was trained with (the same run's saved workflow and checkpoint)")
        raise SchemaError(msg)


def _as_workflow(workflow: Any) -> Any:
    from .workflow import Workflow

    if isinstance(workflow, Workflow):
        if not workflow.is_fitted:
            from .errors import NotFittedError

            raise NotFittedError("batch_predict needs a fitted workflow; fit it or load a saved one")
        return workflow
    if isinstance(workflow, (str, os.PathLike)):
        return Workflow.load(workflow)
    msg = f"workflow must be a gp.Workflow or the directory of a saved one, got {type(workflow).__name__}"
    raise ParameterError(msg)


def _as_model(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        from .training import load_checkpoint

        return load_checkpoint(model)
    import torch

    if not isinstance(model, torch.nn.Module):
        msg = f"model must be a torch.nn.Module or the directory of a gpupipe checkpoint, got {type(model).__name__}"
        raise ParameterError(msg)
    return model


def _as_data(data: Any, partition_rows: int | None) -> tuple[Any, Any]:
    """(frame, None) for an in-memory frame (cut into ``partition_rows`` slices by the caller, so its key
    columns stay as they are: a Dataset would normalize them, decimals to float64 and dates to timestamps),
    (None, Dataset) for everything read in partitions."""
    from .io.dataset import Dataset

    if isinstance(data, Dataset):
        return None, data
    if isinstance(data, (str, os.PathLike)) or (isinstance(data, (list, tuple)) and data):
        return None, Dataset(data, partition_rows=partition_rows)
    if hasattr(data, "__dask_graph__") and hasattr(data, "npartitions"):
        return None, Dataset(data)
    try:
        backend_of(data)
    except TypeError:
        if hasattr(data, "__arrow_c_stream__"):  # Arrow tables, polars, DuckDB results: converted once
            from .io import from_arrow

            return from_arrow(data), None
        msg = (f"data must be a path, glob, directory or list of files, a pandas/cuDF frame or a gp.Dataset; got "
               f"{type(data).__module__}.{type(data).__qualname__}")
        raise ParameterError(msg) from None
    return data, None


def _check_keys(keys: Sequence[str], columns: Sequence[str]) -> list[str]:
    keys = list(keys)
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise SchemaError(f"keys must be column names (str), got {bad!r:.80}")
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise SchemaError(f"keys name {dupes} more than once; list each key column once")
    if PREDICTION in keys:
        msg = f"a key column is named {PREDICTION!r}, the name of the score column; rename it in the data first"
        raise SchemaError(msg)
    missing = [k for k in keys if k not in columns]
    if missing:
        have = list(columns)
        shown = have if len(have) <= 30 else [*have[:30], "..."]
        raise SchemaError(f"key column(s) {missing} not in the data; it has {shown}")
    return keys


def _score_part(wf: Any, model: Any, part: Any, keys: list[str], batch_size: int, device: Any,
                key_table: Any = None) -> Any:
    """The Arrow table (keys, prediction) of one in-memory frame; empty when the workflow's ops (Dropna,
    Filter) drop every row of it. ``key_table``: the part's keys already as Arrow (a slice of a frame's)."""
    import pyarrow as pa

    from .tensors.loader import Loader
    from .training import predict

    label = wf.label
    key_part = part[keys] if keys else None  # taken first: a key may be the label (kept beside its score)
    if label is not None and label in part.columns and not any(label in n.selection for n in wf.nodes):
        part = part.drop(columns=[label])  # scoring needs no label: a partly missing one must not stop it
    out, rows = wf._transform_tracking_rows(part)
    if len(out) == 0:  # every row dropped by an op: nothing to score here, the other partitions go on
        if key_table is not None:
            return key_table.slice(0, 0).append_column(PREDICTION, pa.array([], type=pa.float32()))
        return _empty_table(key_part if key_part is not None else part, keys)
    schema = wf.output_schema
    if label is not None and label not in out.columns:
        schema = schema.without_label()
    loader = Loader(out, batch_size=batch_size, shuffle=False, schema=schema, device=device, workers=0)
    scores = pa.array(predict(model, loader).float().cpu().numpy(), type=pa.float32())
    del loader, out
    if not keys:
        return pa.table({PREDICTION: scores})
    table = F.to_arrow(key_part) if key_table is None else key_table
    if rows is not None:  # an op dropped rows: the keys of the rows kept, in their order
        table = table.take(pa.array(rows, type=pa.int64()))
    return table.append_column(PREDICTION, scores)


def _empty_table(part: Any, keys: list[str]) -> Any:
    import pyarrow as pa

    table = F.to_arrow(part[keys].iloc[:0]) if keys else pa.table({})
    return table.append_column(PREDICTION, pa.array([], type=pa.float32()))


class _Sink:
    """Where scored partitions go: a list (returned as one frame) or a parquet/CSV file being written."""

    def __init__(self, path: str | None, fmt: str | None) -> None:
        self.path, self.fmt = path, fmt
        self.tables: list[Any] = []
        self.writer: Any = None
        self.stream: Any = None
        self.schema: Any = None

    def write(self, table: Any) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)  # e.g. a key column all-null in one partition
        if self.path is None:
            self.tables.append(table)
            return
        if self.writer is None:
            self._open(table.schema)
        self.writer.write_table(table)

    def _open(self, schema: Any) -> None:
        import pyarrow as pa

        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(self.path, schema, compression="snappy", write_page_checksum=True)
        else:
            import pyarrow.csv as pacsv

            gz = self.fmt == "csv.gz"
            self.stream = pa.CompressedOutputStream(self.path, "gzip") if gz else pa.OSFile(self.path, "wb")
            self.writer = pacsv.CSVWriter(self.stream, schema)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.stream is not None:
            self.stream.close()


def batch_predict(workflow: Any, model: Any, data: Any, *, keys: Sequence[str] | str | None = None,
                  out: str | os.PathLike | None = None, batch_size: int = 65536, partition_rows: int | None = None,
                  device: Any = None, progress: bool = True) -> Any:
    """Score ``data`` with a fitted workflow and a trained model, partition by partition.

    Parameters
    ----------
    workflow : gp.Workflow or path
        A fitted workflow, or the directory of one saved with ``wf.save``.
    model : torch.nn.Module or path
        A model trained on the workflow's output, or the directory of its checkpoint (``gp.save_checkpoint``).
    data : path, glob, directory, list of files, frame or gp.Dataset
        What to score (parquet or CSV files are read as a ``gp.Dataset`` on the active backend).
    keys : list of str, optional
        Input columns copied into the output beside each prediction (ids that say which row it
        scores). Default none: the output then holds only ``prediction``, in input row order.
    out : path, optional
        Write the output to this ``.parquet``, ``.csv`` or ``.csv.gz`` file (atomically) and return
        its path; without it the output is returned as a frame of the data's backend.
    batch_size : int, default 65536
        Rows per model call.
    partition_rows : int, optional
        Rows per partition of data read from files (default: one partition per file); a bound on memory.
    device : torch device, optional
        Where the model runs: default the data's device (the GPU for cuDF frames, else the CPU; a CUDA
        device with pandas data uploads each partition's columns once, as ``gp.Loader`` does).
    progress : bool, default True
        A tqdm bar over the partitions.

    Returns
    -------
    Frame of ``keys`` + ``prediction``, or the path written.

    Raises
    ------
    SchemaError
        Before reading any partition: the model does not match the workflow's output schema, or a
        column the workflow reads or a key column is missing from the data.
    ValueError
        An output name whose format is not parquet or CSV, or a bad ``batch_size``.
    DataError
        A continuous column of a transformed partition holds NaN or ±inf (a missing value the
        workflow does not fill; the message names the column and the op that fills or drops it),
        raised at that partition: a model would score those rows NaN.

    Examples
    --------
    >>> import pandas as pd, gpupipe as gp
    >>> from gpupipe import ops
    >>> train = pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    >>> wf = gp.Workflow(["x"] >> ops.Normalize(), label="y")
    >>> model = gp.models.TabularMLP.from_schema(wf.fit(train).output_schema, hidden=(4,))
    >>> scored = gp.batch_predict(wf, model, train.drop(columns="y"), keys=["id"], progress=False)
    >>> list(scored.columns), len(scored)
    (['id', 'prediction'], 4)
    """
    return _batch_predict(workflow, model, data, keys=keys, out=out, batch_size=batch_size,
                          partition_rows=partition_rows, device=device, progress=progress)[0]


def _batch_predict(workflow: Any, model: Any, data: Any, *, keys: Any, out: Any, batch_size: int,
                   partition_rows: int | None, device: Any, progress: bool) -> tuple[Any, dict[str, Any]]:
    """:func:`batch_predict`, and what it did: rows, partitions and seconds (the CLI prints them)."""
    import time

    from . import _validate as V

    batch_size = V.integer(batch_size, "batch_size", "batch_predict", min_value=1)
    partition_rows = V.integer(partition_rows, "partition_rows", "batch_predict", min_value=1, none_ok=True)
    device = V.device(device, "batch_predict")  # before any file is read (the Loader of the first partition was later)
    V.path(out, "out", "batch_predict", none_ok=True)
    fmt = _output_format(out) if out is not None else None
    if out is not None:
        _check_output_path(out)
    wf = _as_workflow(workflow)
    model = _as_model(model)
    check_model_matches(wf, model)
    frame, dataset = _as_data(data, partition_rows)
    if out is not None:
        _check_output_not_input(out, data)
    columns = list(dataset.columns if dataset is not None else frame.columns)
    dtypes = dataset.dtypes if dataset is not None else dict(frame.dtypes)
    keys = _check_keys([keys] if isinstance(keys, str) else list(keys or []), columns)
    wf._check_columns({c: d for c, d in dtypes.items()}, "transform", frame if dataset is None else None,
                      dataset._valueless if dataset is not None else frozenset())
    backend = dataset.backend if dataset is not None else backend_of(frame)
    if dataset is not None:
        parts, total = ((p, None) for p in dataset.iter_partitions()), dataset.num_partitions
    elif partition_rows is not None and len(frame) > partition_rows:
        # the keys converted once, whole: their Arrow types (decimal scale, all-null slices) are the column's
        key_arrow = F.to_arrow(frame[keys]) if keys else None
        starts = range(0, len(frame), partition_rows)
        parts = ((frame.iloc[a:a + partition_rows],
                  None if key_arrow is None else key_arrow.slice(a, partition_rows)) for a in starts)
        total = len(starts)
    else:
        parts, total = iter([(frame, None)]), 1

    from tqdm.auto import tqdm

    stats = {"rows": 0, "partitions": 0, "seconds": 0.0}

    def run(sink: _Sink) -> None:
        start = time.perf_counter()
        first = None
        with tqdm(total=total, desc="predict", unit="partition", disable=not progress, dynamic_ncols=True) as bar:
            for part, key_table in parts:
                if first is None:
                    first = part
                if len(part):
                    try:
                        table = _score_part(wf, model, part, keys, batch_size, device, key_table)
                    except DataError as exc:  # its row numbers count within the partition: say which one
                        if total == 1:
                            raise
                        msg = f"partition {stats['partitions'] + 1} of {total} (rows counted within it): {exc}"
                        raise DataError(msg) from exc
                    if table.num_rows:  # an empty one could carry other key types (all-null columns)
                        sink.write(table)
                    stats["rows"] += table.num_rows
                stats["partitions"] += 1
                bar.update(1)
                bar.set_postfix(rows=stats["rows"])
        if sink.schema is None:  # no rows at all: an empty output with the right columns
            sink.write(_empty_table(first if first is not None else frame, keys))
        stats["seconds"] = time.perf_counter() - start

    if out is None:
        sink = _Sink(None, None)
        run(sink)
        import pyarrow as pa

        table = pa.concat_tables(sink.tables) if len(sink.tables) > 1 else sink.tables[0]
        return F.from_arrow.impl(backend)(table), stats

    from ._files import atomic_write_file

    def write(tmp: str) -> None:
        sink = _Sink(tmp, fmt)
        try:
            run(sink)
        finally:
            sink.close()

    written = atomic_write_file(out, write)
    return (written if isinstance(written, str) else Path(written)), stats  # a URL stays a URL string
