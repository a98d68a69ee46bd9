"""The Workflow: nodes of ops fitted on a frame or a ``gp.Dataset``, then applied to new data.

Semantics
---------
* Nodes run in the order given, over one working frame, so a row-dropping op (``Filter``,
  ``Dropna``) keeps every column of every node aligned.
* Every node reads the **raw input columns** and the columns earlier nodes *added* (joined,
  derived, encoded: names that were not there before), never another node's rewrite of a column:
  ``["x"] >> ops.Normalize()`` followed by ``["x"] >> ops.Rename(postfix="_raw")`` gives the raw
  ``x`` in ``x_raw``, whatever the order of the two nodes. Within a node each op sees what the ops
  before it made. An op that adds a name the data already has is a
  :class:`~gpupipe.errors.SchemaError` (which of the two would a later node mean?). The label always
  comes from the raw column.
* The output holds each node's final columns, in node order, then the label. Two nodes producing
  the same name, or a node producing the label's name, is a :class:`~gpupipe.errors.SchemaError`
  at construction.
* Output dtypes follow :attr:`Workflow.output_schema` exactly: ``cont`` columns are float32 (NaN
  where a value is missing), ``cat`` columns int64, the label float32. Columns whose role no op
  decided are continuous. The output has a fresh ``0..n-1`` index.
* The label is required at fit (checked there: every value must be a finite number, else
  :class:`~gpupipe.errors.DataError` naming it). At transform it is passed through when present
  and checked the same way; data without it (serving) gives an output without it.
* ``fit`` on a frame runs each op's ``fit`` on the frame as transformed by the ops before it.
  ``fit`` on a ``gp.Dataset`` streams partitions: every op whose inputs are ready is fitted in
  the same pass (partials per partition, combined), so a workflow takes as many passes over the
  data as its longest chain of statistic ops, not one per op.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import partial
from typing import Any

from ..backend import frame as F
from ..errors import DataError, NotFittedError, ParameterError, SchemaError, WorkflowFormatError
from ..ops.base import Op
from ..ops.categorify import OOV_MARKER
from ..ops.node import Node
from ..schema import Schema
from ._execute import as_dataset, fit_dataset, run_frame
from ._graph import Step, check_columns, plan, read_columns
from ._schema import build_schema, check_number_kinds, without_label

__all__ = ["Workflow"]


class Workflow:
    """Feature engineering as fitted, saveable steps: ``gp.Workflow(node, node, ..., label=...)``.

    Parameters
    ----------
    *nodes : Node, str or list of str
        ``cols >> op >> op`` chains; a bare name or list of names passes those columns through
        (as continuous float32 unless earlier ops made them categorical).
    label : str, optional
        The target column, passed through as float32.

    Examples
    --------
    >>> import pandas as pd
    >>> import gpupipe as gp
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0], "n": [1, 2, 3], "y": [0, 1, 0]})
    >>> wf = gp.Workflow(["x"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(), "n", label="y")
    >>> out = wf.fit_transform(df)
    >>> list(out.columns), wf.output_schema.cont, wf.output_schema.label
    (['x', 'n', 'y'], ['x', 'n'], 'y')
    >>> str(out["x"].dtype)
    'float32'
    """

    def __init__(self, *nodes: Any, label: str | None = None) -> None:
        if not nodes:
            raise ParameterError('a Workflow needs at least one node, e.g. gp.Workflow(["a", "b"] >> ops.Normalize())')
        if len(nodes) == 1 and isinstance(nodes[0], (list, tuple)) and nodes[0] and isinstance(nodes[0][0], Node):
            nodes = tuple(nodes[0])  # Workflow([node1, node2]) reads as Workflow(node1, node2)
        self.nodes: list[Node] = [Node.coerce(n) for n in nodes]
        for node in self.nodes:  # a bad op parameter fails here, when the workflow is built, not mid-fit
            for op in node.ops:
                op._check_params()
        if label is not None and not isinstance(label, str):
            msg = f"label must be a column name (str), got {type(label).__name__} {label!r:.40}"
            raise SchemaError(msg)
        self.label = label
        self._plan = plan(self.nodes, label)
        # Fitted state: the input dtypes seen at fit and the output schema derived from them. The
        # workflow is fitted exactly when the schema exists.
        self._input_dtypes: dict[str, str] = {}
        self._schema: Schema | None = None
        self._fits = 0  # fits so far: a lazy transform refuses to run with statistics fitted after it was asked for

    # ------------------------------------------------------------------ structure
    def _steps(self) -> list[Step]:
        return self._plan.steps

    @property
    def output_columns(self) -> list[str]:
        """Names of the output columns, in order (the label last)."""
        names = self._plan.output_names
        return [*names, self.label] if self.label is not None else names

    @property
    def ops(self) -> list[Op]:
        """Every op, in the order they run."""
        return [st.op for st in self._steps()]

    def __repr__(self) -> str:
        body = ",\n    ".join(repr(n) for n in self.nodes)
        label = f",\n    label={self.label!r}" if self.label is not None else ""
        return f"Workflow(\n    {body}{label},\n)"

    # ------------------------------------------------------------------ checks
    def _check_columns(self, dtypes: dict[str, Any], stage: str, frame: Any = None,
                       valueless: frozenset[str] = frozenset()) -> dict[str, str]:
        """:func:`check_columns`; with the ``frame`` the dtypes are of (or the ``valueless`` columns of a
        ``gp.Dataset``), a column holding only missing values may arrive in any dtype at transform (it carries no
        kind)."""
        all_missing = (lambda c: F.all_missing(frame[c])) if frame is not None else valueless.__contains__
        used = check_columns(self.nodes, self.label, dtypes, stage, self._input_dtypes, all_missing)
        if stage == "transform" and self._input_dtypes:
            check_number_kinds(self._plan, self._input_dtypes, dtypes, all_missing)
        return used

    def _check_frame(self, data: Any, stage: str) -> Any:
        from ..io.convert import as_frame

        data = as_frame(data, f"Workflow.{stage}")
        _require_frame(data, f"Workflow.{stage}", "a pandas, cuDF or Polars DataFrame or a gp.Dataset",
                       "; convert it with gp.from_pandas/gp.from_arrow")
        if not hasattr(data, "columns"):
            msg = f"Workflow.{stage} expects a DataFrame, got a {type(data).__name__}; use series.to_frame()"
            raise DataError(msg)
        from ..io.convert import check_column_names

        check_column_names(data.columns, f"Workflow.{stage}")
        if len(data) == 0:
            msg = f"Workflow.{stage} got an empty frame (0 rows, columns {list(data.columns)[:30]}); give it data"
            raise DataError(msg)
        return F.normalize(data, read_columns(self.nodes, self.label))

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this Workflow is not fitted yet; call wf.fit(data) (or gp.Workflow.load(directory))")

    def _output(self, working: Any, with_label: bool) -> Any:
        from ._frames import check_label, finalize_output

        assert self._schema is not None
        schema = self._schema if with_label or self.label is None else without_label(self._schema)
        if with_label and self.label is not None:
            check_label(working, self.label)
        # each output from the working column that holds it (a node's rewrite lives under a private name)
        where = [phys for node in self._plan.outputs for _, phys in node]
        if with_label and self.label is not None:
            where.append(self.label)  # the label is always the raw column
        out = working[where]
        out.columns = schema.names
        return finalize_output(out, schema)

    def _finish_fit(self, input_dtypes: dict[str, str]) -> None:
        self._fits += 1
        self._input_dtypes = input_dtypes
        self._schema = build_schema(self._plan, self.label, input_dtypes)

    # ------------------------------------------------------------------ public API
    def fit(self, data: Any) -> Workflow:
        """Fit every op's statistics on ``data`` (a pandas/cuDF frame or a ``gp.Dataset``).

        Returns
        -------
        Workflow
            ``self``.

        Raises
        ------
        SchemaError
            A selected or required column (or the label) is missing, or has a dtype an op cannot take.
        DataError
            Empty data, a null/NaN/infinite label, or values an op cannot take (negative input to LogOp...).
        """
        self._schema = None
        dataset = as_dataset(data)
        if dataset is not None:
            dataset = _canonical_dataset(dataset, read_columns(self.nodes, self.label))
            used = self._check_columns(dataset.dtypes, "fit")
            fit_dataset(self._steps(), dataset, self.label)
        else:
            frame = self._check_frame(data, "fit")
            with F.work_scope(frame):
                used = self._check_columns(dict(frame.dtypes), "fit")
                if self.label is not None:
                    from ._frames import check_label

                    check_label(frame, self.label)
                run_frame(self._steps(), frame, "fit")
        self._finish_fit(used)
        return self

    def fit_transform(self, data: Any) -> Any:
        """Fit on ``data`` and return it transformed.

        On a frame each op's ``fit_transform`` runs (ops whose training output differs from their
        inference output, like TargetEncoding's out-of-fold means, rely on it). On a
        ``gp.Dataset`` this is ``fit`` followed by a lazy ``transform``.
        """
        dataset = as_dataset(data)
        if dataset is not None:
            special = [op for op in self.ops if getattr(op, "fit_transform_differs", False)]
            if special:
                msg = (f"fit_transform on a gp.Dataset is fit + transform, so {special} produce their "
                       "inference-time output on the training data; fit_transform an in-memory frame for "
                       "their training-time output")
                warnings.warn(msg, UserWarning, stacklevel=2)
            return self.fit(dataset).transform(dataset)
        self._schema = None
        frame = self._check_frame(data, "fit_transform")
        with F.work_scope(frame):
            used = self._check_columns(dict(frame.dtypes), "fit_transform")
            if self.label is not None:
                from ._frames import check_label

                check_label(frame, self.label)
            working = run_frame(self._steps(), frame, "fit_transform")
            self._finish_fit(used)
            return self._output(working, with_label=self.label is not None)

    def transform(self, data: Any) -> Any:
        """Apply the fitted workflow: a frame gives a frame, a ``gp.Dataset`` a lazy ``gp.Dataset``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        SchemaError
            A column the workflow reads is missing, or its dtype changed kind since fit.
        DataError
            Empty input, a null/NaN/infinite label (when present), or values an op cannot take.
        """
        self._check_fitted()
        dataset = as_dataset(data)
        if dataset is not None:
            return self._transform_dataset(dataset)
        return self._transform_frame(data, track_rows=False)[0]

    def _transform_frame(self, data: Any, track_rows: bool) -> tuple[Any, Any]:
        """``transform`` of an in-memory frame, and with ``track_rows`` the positions (host int64) of the input
        rows its output rows come from: None when no op drops rows (output row i is input row i)."""
        import numpy as np

        frame = self._check_frame(data, "transform")
        with F.work_scope(frame):
            self._check_columns(dict(frame.dtypes), "transform", frame)
            track = track_rows and any(op.changes_rows for op in self.ops)
            working = frame
            if track:
                working = frame.reset_index(drop=True).copy(deep=False)
                working[_ROW] = F.to_device(working, np.arange(len(working), dtype=np.int64))
            working = run_frame(self._steps(), working, "transform")
            out = self._output(working, with_label=self.label is not None and self.label in frame.columns)
            if not track:
                return out, None
            rows, _ = F.numeric_arrays(working[_ROW], "int64", 0)
            return out, np.asarray(F.to_host(rows))

    def _transform_dataset(self, ds: Any) -> Any:
        from ._frames import empty_output

        ds = _canonical_dataset(ds, read_columns(self.nodes, self.label))
        dtypes = ds.dtypes
        self._check_columns(dtypes, "transform", valueless=ds._valueless)
        with_label = self.label is not None and self.label in dtypes
        assert self._schema is not None
        meta = empty_output(ds.backend, self._schema if with_label else without_label(self._schema))
        # The function holds this workflow: refitting it before computing changes the result.
        return ds.map_partitions(partial(_transform_partition, self, with_label, self._fits), meta=meta)

    @property
    def output_schema(self) -> Schema:
        """Role, dtype and cardinality of each output column (the interface for tensors, loaders and models)."""
        self._check_fitted()
        assert self._schema is not None
        return self._schema

    @property
    def is_fitted(self) -> bool:
        """Whether the workflow is fitted (by ``fit``, ``fit_transform``, ``load`` or :meth:`from_spec`)."""
        return self._schema is not None

    # ------------------------------------------------------------------ spec, save and load
    def to_spec(self) -> dict[str, Any]:
        """The fitted workflow as plain data, from which :meth:`from_spec` rebuilds it (what :meth:`save` writes).

        Returns
        -------
        dict
            ``label``; ``input_dtypes`` (name of each column read at fit → its dtype name);
            ``nodes``, each ``{"selection": [...], "ops": [...]}`` with, per op, ``type`` (its registered
            name), ``params`` (:meth:`~gpupipe.ops.Op.get_params`), ``state`` and ``artifacts`` (the two
            halves of :meth:`~gpupipe.ops.Op.to_state`); and ``output_schema`` (``Schema.to_dict()``).
            Values are JSON values, tuples and frames (frame-valued parameters and artifacts).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        WorkflowFormatError
            An op holds a Python function (LambdaOp, Filter) or is not registered with
            :func:`~gpupipe.ops.register_op`, so no spec can rebuild it.

        Examples
        --------
        >>> import pandas as pd
        >>> import gpupipe as gp
        >>> from gpupipe import ops
        >>> wf = gp.Workflow(["x"] >> ops.Normalize(), label="y")
        >>> spec = wf.fit(pd.DataFrame({"x": [1.0, 3.0], "y": [0, 1]})).to_spec()
        >>> spec["nodes"][0]["ops"][0]["type"], spec["nodes"][0]["ops"][0]["state"]
        ('Normalize', {'means': {'x': 2.0}, 'stds': {'x': 1.0}})
        >>> gp.Workflow.from_spec(spec).output_schema == wf.output_schema
        True
        """
        from ..ops.base import REGISTRY

        schema = self.output_schema  # NotFittedError before anything else
        nodes = []
        for n, node in enumerate(self.nodes):
            ops = []
            for k, op in enumerate(node.ops):
                kind = type(op).__name__
                where = f"{op!r} (node {n}, op {k})"
                if not op.serializable:
                    msg = (f"{where} holds a Python function, and gpupipe never pickles; the workflow cannot be "
                           f"saved. Replace the {kind} with a built-in op, or save without it and recreate it "
                           "after load")
                    raise WorkflowFormatError(msg)
                if REGISTRY.get(kind) is not type(op):
                    msg = (f"{where}: {kind} is not registered with @register_op, so a save could not be loaded; "
                           "register it (gpupipe.ops.register_op) before saving")
                    raise WorkflowFormatError(msg)
                state, artifacts = op.to_state()
                ops.append({"type": kind, "params": op.get_params(), "state": dict(state),
                            "artifacts": dict(artifacts)})
            nodes.append({"selection": list(node.selection), "ops": ops})
        return {"label": self.label, "input_dtypes": dict(self._input_dtypes), "nodes": nodes,
                "output_schema": schema.to_dict()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Workflow:
        """Rebuild a fitted workflow from :meth:`to_spec`'s output (what :meth:`load` does after reading files).

        Each op is created from the op registry with its parameters and restored with
        :meth:`~gpupipe.ops.Op.load_state`; no other code runs. The output schema is derived again
        and, when the spec records one, must equal it.

        Raises
        ------
        WorkflowFormatError
            Naming the node and op whose type is not a registered op, whose parameters do not fit
            its constructor or whose state cannot be restored, or when the derived output schema
            differs from the recorded one.
        """
        from ..ops.base import REGISTRY

        if not isinstance(spec, Mapping) or not isinstance(spec.get("nodes"), list):
            msg = (f"Workflow.from_spec: spec must be the dict Workflow.to_spec() returns (with a 'nodes' list), "
                   f"got {type(spec).__name__}; load a saved workflow with gp.Workflow.load(path)")
            raise WorkflowFormatError(msg)
        nodes = []
        for n, node_spec in enumerate(spec["nodes"]):
            ops = []
            for k, op_spec in enumerate(node_spec["ops"]):
                kind = op_spec["type"]
                op_cls = REGISTRY.get(kind) if isinstance(kind, str) else None
                if op_cls is None:
                    msg = (f"node {n} op {k} has type {kind!r}, which is not a known gpupipe op (known: "
                           f"{sorted(REGISTRY)}). It was saved by a newer gpupipe or the file was edited")
                    raise WorkflowFormatError(msg)
                where = f"{kind} (node {n}, op {k})"
                params = op_spec["params"]
                if not isinstance(params, Mapping):
                    raise WorkflowFormatError(f"{where}: 'params' must be an object")
                try:
                    op = op_cls(**params)
                except TypeError as exc:
                    raise WorkflowFormatError(f"{where}: its parameters do not fit {kind}: {exc}") from None
                try:
                    op.load_state(op_spec["state"], dict(op_spec.get("artifacts", {})))
                except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                    msg = f"{where}: its saved state could not be restored ({type(exc).__name__}: {exc})"
                    raise WorkflowFormatError(msg) from None
                ops.append(op)
            nodes.append(Node(node_spec["selection"], ops))
        wf = cls(*nodes, label=spec.get("label"))
        for st in wf._steps():
            _check_state_covers(st)
        wf._finish_fit({str(k): str(v) for k, v in spec["input_dtypes"].items()})
        if spec.get("output_schema") is not None:
            recorded = Schema.from_dict(spec["output_schema"])
            if wf.output_schema != recorded:
                msg = (f"the saved output schema {recorded} differs from the one its ops give ({wf.output_schema}); "
                       "the file was edited or the ops changed incompatibly. Refit and save again")
                raise WorkflowFormatError(msg)
        return wf

    def save(self, directory: Any, *, storage_options: Any = None) -> Any:
        """Save as ``directory/workflow.json`` + ``directory/artifacts/*.parquet``, atomically; ``directory``
        may be a URL (``s3://``, ``gs://``, ``memory://``) with fsspec ``storage_options``. See
        :mod:`gpupipe.workflow.serialize`."""
        from .serialize import save_workflow

        return save_workflow(self, directory, storage_options=storage_options)

    @classmethod
    def load(cls, directory: Any, *, storage_options: Any = None) -> Workflow:
        """Load a saved workflow (a directory or a URL, ``http(s)://`` included), verifying every artifact's
        sha256. See :mod:`gpupipe.workflow.serialize`."""
        from .. import _validate as V
        from .serialize import load_workflow

        V.path(directory, "directory", "Workflow.load")
        return load_workflow(directory, storage_options=storage_options)

    def _transform_tracking_rows(self, frame: Any) -> tuple[Any, Any]:
        """``transform(frame)`` of an in-memory frame and the input row of each output row (see
        :meth:`_transform_frame`). For scoring, whose keys must stay beside their rows."""
        self._check_fitted()
        return self._transform_frame(frame, track_rows=True)

    # ------------------------------------------------------------------ reading ids back, fitted tables
    def _table_sources(self) -> dict[str, Any]:
        from ._tables import table_sources

        self._check_fitted()
        return table_sources(self._plan, self._input_dtypes)

    def table(self, column: str) -> Any:
        """The fitted table behind output column ``column``, as a pandas frame.

        A Categorify output gives its :meth:`~gpupipe.ops.Categorify.vocabulary` (``id, value, count,
        special``); a TargetEncoding output (``TE_<c>_<target>``) its per-category statistics
        (:meth:`~gpupipe.ops.TargetEncoding.table`); a JoinGroupby output (``<key>_<c>_<stat>``) the
        statistics of its key group (:meth:`~gpupipe.ops.JoinGroupby.table`). A ``Rename`` after the op
        keeps the table; another op that rewrites the column ends it.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        SchemaError
            ``column`` is not an output column with a fitted table; the message lists those that are.

        Examples
        --------
        >>> import pandas as pd
        >>> import gpupipe as gp
        >>> from gpupipe import ops
        >>> df = pd.DataFrame({"shop": ["a", "b", "a"], "y": [1, 0, 1]})
        >>> wf = gp.Workflow(["shop"] >> ops.TargetEncoding("y", smoothing=0), label="y").fit(df)
        >>> wf.table("TE_shop_y")[["value", "count", "mean"]]
          value  count  mean
        0     a      2   1.0
        1     b      1   0.0
        """
        from .. import _validate as V

        V.string(column, "column", "Workflow.table")
        sources = self._table_sources()
        src = sources.get(column)
        if src is None:
            msg = (f"output column {column!r} has no fitted table; the columns that have one are {list(sources)} "
                   "(outputs of Categorify, TargetEncoding and JoinGroupby)")
            raise SchemaError(msg)
        return src.op.table(src.key)

    def vocabulary(self, column: str) -> Any:
        """The vocabulary of the Categorify output ``column`` as a pandas frame ``(id, value, count, special)``,
        one row per id, the special ids first (see :meth:`gpupipe.ops.Categorify.vocabulary`).

        Raises
        ------
        SchemaError
            ``column`` is not a Categorify output; the message lists those that are.

        Examples
        --------
        >>> import pandas as pd
        >>> import gpupipe as gp
        >>> from gpupipe import ops
        >>> wf = gp.Workflow(["c"] >> ops.Categorify()).fit(pd.DataFrame({"c": ["x", "y", "x"]}))
        >>> wf.vocabulary("c")[["id", "value", "count"]].tail(2)
           id value  count
        3   3     x      2
        4   4     y      1
        """
        from .. import _validate as V

        V.string(column, "column", "Workflow.vocabulary")
        src = self._categorify_source(column, "vocabulary")
        return src.op.vocabulary(src.key)

    def _categorify_source(self, column: str, what: str) -> Any:
        from ..ops.categorify import Categorify

        encoded = {n: s for n, s in self._table_sources().items() if isinstance(s.op, Categorify)}
        if column not in encoded:
            msg = f"Workflow.{what}: {column!r} is not a Categorify output; those are {list(encoded)}"
            raise SchemaError(msg)
        return encoded[column]

    def inverse_transform(self, data: Any, columns: Any = None, *, oov: Any = OOV_MARKER) -> Any:
        """Read the Categorify ids of transformed data back as the values they encode.

        Every Categorify output column present in ``data`` (or those in ``columns``) is decoded;
        all other columns are left as they are. Id 0 (padding) and id 1 (null) read as missing;
        out-of-vocabulary ids read as ``oov``, by default ``"<OOV>"`` (``gpupipe.ops.OOV_MARKER``), in
        the columns that can hold it (text columns for text), and as missing in the others (integer
        and boolean columns cannot hold text). ``oov=None`` reads them as missing everywhere;
        ``oov={column: value}`` sets it per column (a value the column cannot hold is a SchemaError;
        columns not named keep the default). A missing id reads as missing. The values come back in
        a nullable dtype of the kind fitted, in the width the column had at fit (``Int32`` stays 32
        bits; ``str`` and ``boolean`` for text and booleans; the matching cuDF dtypes with nulls).

        Parameters
        ----------
        data : pandas/cuDF frame or gp.Dataset
            Output of :meth:`transform` (or any frame holding its id columns). A Dataset gives a lazy Dataset.
        columns : str or list of str, optional
            The columns to decode (default: every Categorify output present).
        oov : scalar, None or mapping, default "<OOV>"
            What out-of-vocabulary ids read as.

        Raises
        ------
        SchemaError
            A name in ``columns`` (or ``oov``) is not a Categorify output, or is missing from ``data``.
        DataError
            An id outside the column's range (the data was not encoded by this workflow).

        Examples
        --------
        >>> import pandas as pd
        >>> import gpupipe as gp
        >>> from gpupipe import ops
        >>> wf = gp.Workflow(["c"] >> ops.Categorify(), "x").fit(pd.DataFrame({"c": ["a", "b", "a"], "x": [1.0, 2, 3]}))
        >>> out = wf.transform(pd.DataFrame({"c": ["b", None, "new"], "x": [4.0, 5, 6]}))
        >>> out["c"].tolist()
        [4, 1, 2]
        >>> wf.inverse_transform(out)["c"].tolist()
        ['b', nan, '<OOV>']
        """
        from ._execute import as_dataset

        sources = self._table_sources()
        dataset = as_dataset(data)
        if dataset is None:
            _require_frame(data, "Workflow.inverse_transform", "a pandas or cuDF DataFrame or a gp.Dataset")
        have = list(dataset.columns if dataset is not None else data.columns)
        if columns is None:
            names = [n for n in sources if n in have and hasattr(sources[n].op, "inverse_transform")]
        else:
            from .. import _validate as V

            # one name or a list of names (a string is one column, never its letters)
            names = [columns] if isinstance(columns, str) else V.name_list(columns, "columns", "Workflow.inverse_transform")
            for n in names:
                self._categorify_source(n, "inverse_transform")
            missing = [n for n in names if n not in have]
            if missing:
                raise SchemaError(f"Workflow.inverse_transform: column(s) {missing} not in the data; it has {have[:30]}")
        if isinstance(oov, Mapping):
            for n in oov:
                self._categorify_source(n, "inverse_transform (oov)")
        plan = [(n, sources[n]) for n in names]
        if dataset is not None:
            return dataset.map_partitions(partial(_inverse_partition, plan, oov))
        return _inverse_partition(plan, oov, data)

def _check_state_covers(step: Any) -> None:
    """WorkflowFormatError when a restored op's per-column statistics (a fitted dict keyed by column name:
    ``means_``, ``vocab_``, ...) lack a column its node gives it: an edited or damaged spec, which would
    otherwise load and fail at transform with a bare KeyError."""
    for attr, value in vars(step.op).items():
        if attr.startswith("_") or not attr.endswith("_") or not isinstance(value, Mapping):
            continue
        if any(isinstance(k, tuple) for k in value):
            continue  # keyed by groups of columns (JoinGroupby's keys): the op checks those itself
        missing = [c for c in step.columns if c not in value]
        if missing:
            msg = (f"{type(step.op).__name__} (node {step.node}) reads column(s) {missing}, but its saved state "
                   f"{attr!r} has statistics for {list(value)[:10]} only; the file was edited or is damaged. "
                   "Refit and save again")
            raise WorkflowFormatError(msg)


def _transform_partition(wf: Workflow, with_label: bool, fits: int, part: Any) -> Any:
    """One partition of a lazy ``transform`` (module level: Dask pickles it with the workflow); ``fits``: the
    workflow's fit count when the transform was asked for. The function holds the workflow itself, not a copy of
    its statistics: a refit since then would encode these partitions with the new ones (and the Dataset's meta and
    any Loader built on the old ``output_schema`` would no longer hold), so it is refused."""
    if wf._fits != fits:
        msg = ("the workflow was fitted again after transform(dataset) was called, so this lazy result would mix "
               "statistics; call wf.transform(dataset) again after the fit (or use a copy of the workflow: "
               "copy.deepcopy(wf))")
        raise DataError(msg)
    working = run_frame(wf._steps(), part, "transform")
    return wf._output(working, with_label)


def _inverse_partition(plan: list[tuple[str, Any]], oov: Any, frame: Any) -> Any:
    """``frame`` with each planned Categorify output read back as values (module level: Dask pickles it)."""
    if not plan:
        return frame
    result = frame.copy(deep=False)
    for name, src in plan:
        # the op knows its columns by their names at its input: a later Rename changed the name only
        view = frame[[name]] if name == src.key else frame[[name]].rename(columns={name: src.key})
        value = oov
        if isinstance(oov, Mapping):  # only the columns it names: the others keep the default
            value = {src.key: oov[name]} if name in oov else OOV_MARKER
        dtypes = None if src.input_dtype is None else {src.key: src.input_dtype}
        result[name] = src.op.inverse_transform(view, [src.key], oov=value, dtypes=dtypes, names={src.key: name})[src.key]
    return result


def _canonical_dataset(ds: Any, columns: list[str]) -> Any:
    """``ds`` with ``columns`` in their canonical dtypes in every partition, as an in-memory frame given to ``fit`` or
    ``transform`` has them (:func:`~gpupipe.backend.frame.normalize`): a Dataset of files keeps DECIMAL and DATE
    columns Arrow-backed, which the ops would refuse where the same file read by ``gp.read_parquet`` works. ``ds``
    itself when nothing needs converting. Object columns are left to the ops (an empty one tells nothing of its
    values' kind)."""
    meta = ds.to_dask()._meta
    cols = [c for c in columns if c in meta.columns and str(meta[c].dtype) != "object"]
    canonical = F.normalize(meta, cols)
    if canonical is meta:
        return ds
    out = ds.map_partitions(partial(_normalize_partition, cols), meta=canonical)
    out._valueless = ds._valueless
    return out


def _normalize_partition(columns: list[str], part: Any) -> Any:
    """``part`` with ``columns`` in their canonical dtypes (module level: Dask pickles it)."""
    return F.normalize(part, columns)


def _require_frame(data: Any, where: str, accepted: str, advice: str = "") -> None:
    """DataError naming what ``where`` was given when ``data`` is no frame of a gpupipe backend."""
    from ..backend import backend_of

    try:
        backend_of(data)
    except TypeError:
        msg = f"{where} expects {accepted}, got {type(data).__module__}.{type(data).__qualname__}{advice}"
        raise DataError(msg) from None


#: the input row number carried through a transform by _transform_tracking_rows (no op reads it); NUL-prefixed
#: like the planner's private working names, so it cannot replace a user's column
_ROW = "\x00row"
