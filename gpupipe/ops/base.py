"""The op contract shared by every feature-engineering op.

An op follows scikit-learn's estimator contract: ``__init__`` takes explicit, named parameters
and only stores them; fitted state lives in attributes ending in ``_``; ``fit`` returns ``self``;
``transform`` before ``fit`` raises :class:`~gpupipe.errors.NotFittedError`.

Ops are applied by a :class:`~gpupipe.workflow.Workflow` to a *selection* of columns:
``["a", "b"] >> ops.FillMissing() >> ops.Normalize()``. An op receives the current frame and the
names of its input columns, and returns a frame holding exactly its output columns
(:meth:`Op.output_columns`), row-aligned with the input. Ops that drop rows (``Filter``,
``Dropna``) set ``changes_rows`` and override :meth:`Op.transform_frame`, which sees and returns
the whole frame.

A :class:`StatOp` computes its statistics in one pass that works per partition and combines:
``partial_fit`` on each partition → ``combine`` the partials → ``finalize`` into fitted
attributes. In-memory fits run the same three steps on one partition, so a ``gp.Dataset`` fit
equals an in-memory fit.

Saving: each op keeps its own :meth:`Op.to_state` / :meth:`Op.load_state`. JSON-able scalars
go into ``workflow.json``; frames (vocabularies, group statistics) are returned as artifacts and
saved as parquet. Nothing is pickled.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from ..errors import NotFittedError, ParameterError, SchemaError

__all__ = ["REGISTRY", "ColumnInfo", "Op", "StatOp", "register_op"]

# op type name -> class; the only classes a saved workflow may instantiate.
REGISTRY: dict[str, type[Op]] = {}


def register_op(cls: type[Op]) -> type[Op]:
    """Class decorator adding an op to the registry that :meth:`Workflow.load` trusts."""
    REGISTRY[cls.__name__] = cls
    return cls


@dataclass(frozen=True)
class ColumnInfo:
    """What the workflow knows about a column between ops: role, dtype and (for ids) cardinality.

    ``role`` is ``"cont"``, ``"cat"`` or ``None`` (not decided yet: the workflow infers it at the end,
    floats and integers becoming ``cont`` unless an op made them ``cat``). ``vocabulary`` names the
    mapping from ids to values (a digest: :meth:`Categorify.vocabulary_digest`, :meth:`Bucketize.boundaries_digest`),
    so that ids of another fit or other boundaries, of the same cardinality, are told apart; ops that keep the ids
    pass it on.
    """

    dtype: str
    role: str | None = None
    cardinality: int | None = None
    vocabulary: str | None = None


class _OpClass(type):
    """The type of op classes: ``["x"] >> ops.Normalize`` (the class, not an instance) names the fix
    instead of Python's bare "unsupported operand type(s)"."""

    def _class_given(cls, other: Any = None) -> NoReturn:
        msg = (f"`>> {cls.__name__}` got the op class {cls.__name__}, not an op; pass an instance: "
               f"`>> ops.{cls.__name__}()` (with its parameters, if any)")
        raise ParameterError(msg)

    __rrshift__ = _class_given
    __rshift__ = _class_given


class Op(metaclass=_OpClass):
    """Base class of all ops. Subclasses override what they need; see the module docstring."""

    # NumPy must not broadcast `np.array(["a"]) >> op` element-wise: it defers to __rrshift__.
    __array_ufunc__ = None

    #: True for ops whose statistics need a ``fit`` (StatOps, and stateful ops like JoinExternal).
    stateful: ClassVar[bool] = False
    #: True for ops that drop rows (they override transform_frame).
    changes_rows: ClassVar[bool] = False
    #: True for ops whose ``transform`` treats each column on its own and returns exactly its input
    #: columns (FillMissing without indicators, Clip, LogOp, Normalize). The Workflow runs a chain of
    #: such ops one column at a time, so one column's intermediates are freed before the next starts.
    columnwise: ClassVar[bool] = False
    #: True for ops whose output for a number depends on whether its column holds integers or floats (HashBucket
    #: hashes 3 and 3.0 apart): the Workflow refuses, at transform, a column that reaches such an op holding the
    #: other kind of number than at fit.
    numeric_kind_matters: ClassVar[bool] = False
    #: False for ops that cannot be saved (LambdaOp).
    serializable: ClassVar[bool] = True
    #: True for ops whose ``fit_transform`` output on the training data differs from ``transform``'s
    #: (TargetEncoding's out-of-fold means). On a ``gp.Dataset``, ``Workflow.fit_transform`` is fit +
    #: transform and warns about such ops.
    fit_transform_differs: ClassVar[bool] = False

    # -- graph building: ["a", "b"] >> op, node >> op ------------------------------------
    def __rrshift__(self, other: Any) -> Any:
        from .node import Node

        return Node.coerce(other) >> self

    def __rshift__(self, other: Any) -> Any:
        name = type(self).__name__
        nxt = getattr(other, "__name__", None) or type(other).__name__
        msg = (f"`{name}() >> {nxt}`: a chain starts with a column selection; write "
               f"`[\"col\", ...] >> ops.{name}() >> ...` (ops are applied to the columns selected first)")
        raise ParameterError(msg)

    def _check_params(self) -> None:
        """Check the constructor parameters: :class:`~gpupipe.errors.ParameterError` naming the op and the
        parameter. Called when a Workflow is built and at the start of ``fit`` and ``transform`` (``__init__``
        only stores, as scikit-learn's contract asks). May store a parameter back in its plain form
        (``np.int64(2)`` → ``2``) so that it saves as JSON. The default checks nothing."""

    # -- scikit-learn style parameters ---------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- column bookkeeping --------------------------------------------------------------
    def output_columns(self, columns: Sequence[str]) -> list[str]:
        """Names of the columns this op produces from ``columns`` (default: the same names)."""
        return list(columns)

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        """Role/dtype/cardinality of each output column given the inputs' (default: unchanged).

        Called after ``fit``, so cardinalities may use fitted statistics.
        """
        return {out: info[src] for src, out in zip(columns, self.output_columns(columns), strict=True)}

    def required_columns(self, columns: Sequence[str]) -> list[str]:
        """Columns ``fit`` reads besides the selection (for example a target); checked at fit only,
        since data to transform (serving data) has no target."""
        return []

    # -- fitting -------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Derived, never set: a stateless op always is; a stateful one is once it holds a fitted
        attribute (a name ending in ``_``, scikit-learn's rule), which ``fit`` and ``load_state`` set."""
        return not self.stateful or any(name.endswith("_") and not name.startswith("__") for name in vars(self))

    def fit(self, data: Any, columns: Sequence[str]) -> Op:
        """Fit statistics on ``data`` (a frame or a ``gp.Dataset``). Stateless ops just return self."""
        self._check_params()
        return self

    def fit_transform(self, frame: Any, columns: Sequence[str]) -> Any:
        """Fit on ``frame`` then transform it; ops whose training-time output must differ
        (TargetEncoding's out-of-fold means) override this."""
        return self.fit(frame, columns).transform(frame, columns)

    def check_fitted(self) -> None:
        if not self.is_fitted:
            msg = f"{type(self).__name__} is not fitted yet; call Workflow.fit (or op.fit) before transform"
            raise NotFittedError(msg)

    # -- transforming --------------------------------------------------------------------
    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        """Return a frame with exactly ``output_columns(columns)``, row-aligned with ``frame``."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform")

    def transform_frame(self, frame: Any, columns: Sequence[str]) -> Any:
        """Apply the op to a whole frame: its outputs are assigned into (a shallow copy of) ``frame``.

        Row-dropping ops override this and return the filtered frame.
        """
        from ..backend import frame as F

        self._check_params()
        self.check_fitted()
        out = self.transform(frame, columns)
        return F.with_columns(frame, {name: out[name] for name in out.columns})

    # -- saving --------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(JSON-able state, artifacts). State holds scalar statistics; artifacts map a name to a
        pandas or cuDF frame (vocabularies, group statistics) saved as parquet.

        The default saves only the constructor parameters (enough for stateless ops).
        """
        return {}, {}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        """Restore what :meth:`to_state` produced. ``artifacts`` are pandas frames."""
        if self.stateful:
            raise NotImplementedError(f"{type(self).__name__} must implement load_state")

    # -- helpers for subclasses ----------------------------------------------------------
    @classmethod
    def _inputs(cls, frame: Any, names: Sequence[str], op: str) -> Any:
        """``frame`` with ``names`` (checked present) in their canonical dtypes, as a Workflow gives them to its ops
        (:func:`~gpupipe.backend.frame.normalize`; the frame itself when nothing needs converting). An op called on
        its own then reads an object column of Python ints as integers, not as text."""
        from ..backend import frame as F

        cls._require(frame, names, op)
        return F.normalize(frame, list(names))

    @staticmethod
    def _require(frame: Any, names: Sequence[str], op: str) -> None:
        missing = [n for n in names if n not in frame.columns]
        if missing:
            have = list(frame.columns)
            shown = have if len(have) <= 30 else [*have[:30], "..."]
            msg = f"{op}: column(s) {missing} not found in the data; it has {shown}"
            raise SchemaError(msg)
        labels = frame.columns
        if not labels.is_unique:  # frame[name] would be a frame of several columns, not a column
            repeated = set(labels[labels.duplicated()])
            twice = [n for n in dict.fromkeys(names) if n in repeated]
            if twice:
                msg = (f"{op}: the data has several columns named {twice}; every column needs its own name. Rename "
                       "them first (pandas: df.columns = [...])")
                raise SchemaError(msg)


class StatOp(Op):
    """An op whose statistics are computed per partition and combined.

    Subclasses implement :meth:`partial_fit`, :meth:`combine` and :meth:`finalize`. ``fit`` runs
    them over one frame or over every partition of a ``gp.Dataset`` (on its Dask client), so
    both give the same statistics.
    """

    stateful: ClassVar[bool] = True

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> Any:
        """Statistics of one partition, small and picklable (sums, counts, value counts...)."""
        raise NotImplementedError

    def combine(self, partials: list[Any]) -> Any:
        """Merge the partition statistics (associative: any grouping of partitions gives the same)."""
        raise NotImplementedError

    def finalize(self, combined: Any, columns: Sequence[str]) -> None:
        """Turn combined statistics into fitted attributes (ending in ``_``); the op is then fitted."""
        raise NotImplementedError

    def fit(self, data: Any, columns: Sequence[str]) -> StatOp:
        self._check_params()
        columns = list(columns)
        partials = map_partitions(data, lambda part: self.partial_fit(part, columns))
        self.finalize(self.combine(partials), columns)
        return self


def map_partitions(data: Any, fn: Callable[[Any], Any]) -> list[Any]:
    """Apply ``fn`` to each partition of a ``gp.Dataset`` (computed in parallel), or to a frame."""
    if hasattr(data, "map_partials"):
        return list(data.map_partials(fn))
    return [fn(data)]
