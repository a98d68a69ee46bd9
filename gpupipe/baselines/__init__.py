"""Classic ML baselines on a Workflow's output: cuML on the cudf backend, scikit-learn on pandas.

``gp.baselines.fit(frame, schema, kind=...)`` fits one of

``"logistic"``
    logistic regression (binary), L2 with ``C=1``, lbfgs (scikit-learn) / quasi-Newton (cuML),
    ``tol=1e-3``, ``max_iter=200``;
``"random_forest"``
    a random forest (binary or regression): 12 trees, each on a 20% bootstrap sample,
    ``max_depth=10``, ``min_samples_leaf=20``, ``max_features="sqrt"``, all cores;
``"linear"`` / ``"ridge"``
    least squares / ridge (``alpha=1``) regression.

The defaults are sized to fit ~250k rows in a few seconds on a 2-core machine (measured:
logistic with ~4k one-hot columns ~1.5 s, random forest ~6 s); a tighter fit is a parameter away
(``tol=1e-4``, ``n_estimators=100``, ``max_samples=None``). Any estimator parameter can be
overridden with ``**params``. The features are the schema's
``cont`` columns and ``cat`` columns. Categorical ids are one-hot encoded for the linear kinds
(an id's numeric value means nothing to a linear model), as a sparse CSR matrix sized from the
schema's cardinalities (on both backends: cuML's linear solvers take CSR as scikit-learn's do);
the random forest takes the ids as integer features, which trees split fine.
``Baseline.score`` reports the same metrics, from the same functions, as :func:`gpupipe.evaluate`.

Examples
--------
>>> import numpy as np, pandas as pd, gpupipe as gp
>>> from gpupipe.schema import ColumnSchema, Schema
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"x": rng.normal(size=200), "c": rng.integers(0, 3, 200)})
>>> df["y"] = (df["x"] + rng.normal(size=200) > 0).astype("float32")
>>> s = Schema([ColumnSchema("x", "cont", "float64"), ColumnSchema("c", "cat", "int64", 3),
...             ColumnSchema("y", "label", "float32")])
>>> base = gp.baselines.fit(df, s, kind="logistic")
>>> sorted(base.score(df)), base.score(df)["auc"] > 0.7
(['accuracy', 'auc', 'logloss'], True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..backend import backend_of
from ..backend import frame as F
from ..errors import DataError, ParameterError, SchemaError
from ..schema import Schema
from ._generic import estimator_input, make_estimator, sparse_module

__all__ = ["KINDS", "Baseline", "fit"]

KINDS = ("logistic", "random_forest", "linear", "ridge")
_TASKS = {"logistic": ("binary",), "random_forest": ("binary", "regression"), "linear": ("regression",),
          "ridge": ("regression",)}
_ONEHOT = {"logistic": True, "random_forest": False, "linear": True, "ridge": True}


def column_array(frame: Any, name: str) -> Any:
    """One column as a float64 NumPy/CuPy array, NaN where missing."""
    return F.float_values(frame[name])


def _xp(frame: Any) -> Any:
    from ..backend import array_namespace

    return array_namespace(frame)


def _check_columns(frame: Any, schema: Schema, need_label: bool) -> None:
    wanted = [*schema.cont, *schema.cat] + ([schema.label] if need_label and schema.label else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        msg = (f"the frame lacks the schema's column(s) {missing}; it has {list(frame.columns)}. "
               f"Pass the frame produced by the Workflow whose output_schema this is")
        raise SchemaError(msg)


def _label_array(frame: Any, name: str) -> Any:
    """The label as float64 values; a SchemaError naming it when it is not numbers or bools (text labels)."""
    label = F.normalize(frame, [name])[name]
    if F.value_kind(label) not in F.NUMERIC_KINDS:  # a categorical counts as its categories
        msg = (f"label column {name!r} has dtype {label.dtype}, which is not numeric; a baseline needs numeric labels "
               "(0/1 for a binary task): encode the label as numbers first, e.g. (df[label] == 'yes').astype('int8')")
        raise SchemaError(msg)
    return column_array(frame, name)


def _labels(frame: Any, schema: Schema, task: str) -> Any:
    name = schema.label
    if name is None:
        raise SchemaError(f"the schema has no label column ({schema!r}); baselines need one: pass label=... to the Workflow")
    xp = _xp(frame)
    y = _label_array(frame, name)
    bad = int(xp.count_nonzero(~xp.isfinite(y)))
    if bad:
        raise DataError(f"label column {name!r} has {bad} null/NaN/inf value(s); drop those rows (ops.Dropna) first")
    if task == "binary":
        odd = int(xp.count_nonzero((y != 0) & (y != 1)))
        if odd:
            raise DataError(f"label column {name!r} has {odd} value(s) other than 0/1; a binary baseline needs 0/1 labels")
        positives = int(xp.count_nonzero(y == 1))
        if positives in (0, len(y)):
            msg = (f"label column {name!r} holds only {'1s' if positives else '0s'} ({len(y)} rows); a binary baseline "
                   "needs both classes. Check the split or filters that produced this frame")
            raise DataError(msg)
    return y


def _design(frame: Any, schema: Schema, onehot: bool) -> Any:
    """Feature matrix: cont columns, then cat ids (integers, or one-hot CSR/dense)."""
    xp = _xp(frame)
    n = len(frame)
    cont = [column_array(frame, c) for c in schema.cont]
    if cont:
        xc = xp.stack(cont, axis=1)
        nan_cols = [c for c, bad in zip(schema.cont, xp.isnan(xc).any(axis=0).tolist(), strict=True) if bad]
        if nan_cols:
            msg = f"continuous column(s) {nan_cols} hold nulls/NaN; fill them in the Workflow (ops.FillMissing) first"
            raise DataError(msg)
        inf_cols = [c for c, bad in zip(schema.cont, xp.isinf(xc).any(axis=0).tolist(), strict=True) if bad]
        if inf_cols:
            msg = (f"continuous column(s) {inf_cols} hold infinite values; clip them in the Workflow "
                   "(ops.Clip(lower=..., upper=...)) or filter those rows out first")
            raise DataError(msg)
    else:
        xc = xp.zeros((n, 0), dtype=xp.float64)
    cards = schema.cardinalities
    ids = []
    for c in schema.cat:
        col = column_array(frame, c)
        bad = int(xp.count_nonzero(~((col >= 0) & (col < cards[c]))))  # NaN fails both tests too
        if bad:
            msg = (f"categorical column {c!r} has {bad} null or out-of-range id(s) (allowed 0..{cards[c] - 1} from the "
                   f"schema's cardinality); encode it with ops.Categorify, which maps nulls and unseen values to ids")
            raise DataError(msg)
        fractional = col != xp.floor(col)
        if bool(fractional.any()):  # the int64 cast below would truncate 1.5 to id 1, as to_tensors refuses to
            msg = (f"categorical column {c!r} is float with non-integer values (e.g. {col[fractional][:3].tolist()}); "
                   "ids must be whole numbers: encode it with ops.Categorify or give it the 'cont' role")
            raise SchemaError(msg)
        ids.append(col.astype(xp.int64))
    if not ids:
        return xc
    if not onehot:
        return xp.concatenate([xc, xp.stack(ids, axis=1).astype(xp.float64)], axis=1).astype(xp.float32)
    # Build the CSR matrix directly: every row holds its C continuous values (stored even when 0)
    # and K ones, at fixed offsets, so indptr is a plain arange and no sparse stacking is needed.
    sp = sparse_module(frame)
    n_cont, k = xc.shape[1], len(ids)
    offsets = xp.cumsum(xp.asarray([0] + [cards[c] for c in schema.cat[:-1]], dtype=xp.int64)) + n_cont
    indices = xp.concatenate([xp.broadcast_to(xp.arange(n_cont, dtype=xp.int64), (n, n_cont)),
                              xp.stack(ids, axis=1) + offsets[None, :]], axis=1).reshape(-1)
    data = xp.concatenate([xc, xp.ones((n, k), dtype=xp.float64)], axis=1).reshape(-1)
    indptr = xp.arange(0, n * (n_cont + k) + 1, n_cont + k, dtype=xp.int64)
    width = n_cont + int(sum(cards.values()))
    return sp.csr_matrix((data, indices, indptr), shape=(n, width))


@dataclass
class Baseline:
    """A fitted baseline; see :func:`fit`.

    Attributes
    ----------
    kind, task, backend : str
    estimator : the fitted scikit-learn or cuML estimator
    schema : Schema
    fit_seconds : float
    """

    kind: str
    task: str
    backend: str
    estimator: Any
    schema: Schema
    onehot: bool
    fit_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def _matrix(self, frame: Any) -> Any:
        if backend_of(frame) != self.backend:
            msg = (f"this baseline was fitted on the {self.backend} backend but got a {backend_of(frame)} frame; "
                   f"convert it (gp.to_pandas / gp.from_pandas) or fit on the same backend")
            raise SchemaError(msg)
        _check_columns(frame, self.schema, need_label=False)
        frame = F.normalize(frame, self.schema.names)
        text = {c: str(frame[c].dtype) for c in [*self.schema.cont, *self.schema.cat]
                if F.value_kind(frame[c]) not in F.NUMERIC_KINDS}
        if text:
            msg = (f"column(s) {text} are not numeric, but the schema makes them features; pass the Workflow's output "
                   "(wf.transform(data)), where they are encoded (ops.Categorify for text)")
            raise SchemaError(msg)
        if len(frame) == 0:  # scikit-learn's "Found array with 0 sample(s)" ValueError otherwise
            raise DataError("the frame to predict or score has no rows; check the data and any filters")
        x = _design(frame, self.schema, self.onehot)
        return estimator_input.impl(self.backend)(self.kind, x)

    def predict(self, frame: Any) -> Any:
        """Probabilities of the positive class (binary) or predicted values, as a NumPy/CuPy array."""
        x = self._matrix(frame)
        if self.task == "binary":
            proba = self.estimator.predict_proba(x)
            classes = [float(c) for c in _to_list(self.estimator.classes_)]
            col = classes.index(1.0) if 1.0 in classes else len(classes) - 1
            out = proba[:, col]
        else:
            out = self.estimator.predict(x)
        return _xp(frame).asarray(out).reshape(-1)

    def score(self, frame: Any) -> dict[str, float]:
        """The same metrics as :func:`gpupipe.evaluate`: auc/logloss/accuracy or rmse/mae."""
        from ..training.metrics import compute_metrics

        pred = self.predict(frame)
        _check_columns(frame, self.schema, need_label=True)
        return compute_metrics(pred, _labels(frame, self.schema, self.task), self.task)


def _to_list(a: Any) -> list[Any]:
    if hasattr(a, "tolist"):
        return a.tolist()
    if hasattr(a, "to_numpy"):
        return a.to_numpy().tolist()
    return list(a)


def _check_frame_arg(frame: Any, where: str) -> None:
    from .. import _validate as V

    if hasattr(frame, "columns") and getattr(frame, "ndim", 2) == 2 and not hasattr(frame, "iter_partitions") \
            and not type(frame).__module__.startswith("pyarrow"):
        return
    hint = ""
    if hasattr(frame, "iter_partitions"):
        hint = "a baseline fits in memory: pass ds.to_frame() (or a sample of it)"
    elif type(frame).__module__.startswith("pyarrow"):
        hint = "convert it with gp.from_arrow(...) first"
    V.fail(where, "frame", frame, "a pandas or cuDF DataFrame (a Workflow's output)", hint)


def _checked_estimator(backend: str, kind: str, task: str, params: dict[str, Any], seed: int, where: str) -> Any:
    """The estimator for ``kind`` with ``params``, its parameters checked before any fitting: an unknown name or a
    value the library refuses is a ParameterError naming it."""
    from .. import _validate as V

    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        V.fail(where, "params", params, "estimator parameters given by name")
    try:
        est = make_estimator.impl(backend)(kind, task, dict(params), int(seed))
    except TypeError as exc:  # an unknown keyword
        unknown = [k for k in params if f"'{k}'" in str(exc)] or list(params)
        V.fail(where, unknown[0], params[unknown[0]], f"a parameter of the {kind} estimator", str(exc))
    known = est.get_params() if hasattr(est, "get_params") else {}
    unknown = [k for k in params if known and k not in known]
    if unknown:
        V.fail(where, unknown[0], params[unknown[0]], f"a parameter of the {kind} estimator ({type(est).__name__}: "
               f"{', '.join(sorted(known))})")
    check = getattr(est, "_validate_params", None)  # scikit-learn's own constraint check, before any fitting
    if callable(check):
        try:
            check()
        except (TypeError, ValueError) as exc:
            culprit = next((k for k in params if f"'{k}'" in str(exc)), "params")
            V.fail(where, culprit, params.get(culprit, params), f"a valid {type(est).__name__} parameter", str(exc))
    return est


def fit(frame: Any, schema: Schema, kind: str = "logistic", *, task: str | None = None, seed: int = 0,
        **params: Any) -> Baseline:
    """Fit a classic baseline on ``frame`` (cuML for a cuDF frame, scikit-learn for pandas).

    Parameters
    ----------
    frame : cudf.DataFrame or pandas.DataFrame
        Model-ready rows, e.g. ``wf.transform(train)``.
    schema : Schema
        Says which columns are cont, cat (with cardinalities) and the label.
    kind : {"logistic", "random_forest", "linear", "ridge"}
    task : {"binary", "regression"}, optional
        Implied by ``kind`` except for ``random_forest``, where it defaults to ``binary`` when the
        label holds only 0 and 1, else ``regression``.
    seed : int, default 0
        ``random_state`` of the random forest.
    **params
        Estimator parameters overriding the defaults (listed in the module docstring).

    Returns
    -------
    Baseline
    """
    from .. import _validate as V

    where = "gp.baselines.fit"
    _check_frame_arg(frame, where)
    V.choice(kind, KINDS, "kind", where)
    V.choice(task, ("binary", "regression"), "task", where, none_ok=True, none_means="implied by kind")
    seed = V.seed(seed, where)
    if not isinstance(schema, Schema):
        raise SchemaError(f"fit expects a gpupipe.Schema (e.g. wf.output_schema), got {type(schema).__name__}")
    if schema.label is None:
        raise SchemaError(f"the schema has no label column ({schema!r}); pass label=... to the Workflow")
    if not schema.cont and not schema.cat:
        raise SchemaError(f"the schema has no cont or cat column to learn from ({schema!r})")
    backend = backend_of(frame)
    _check_columns(frame, schema, need_label=True)
    frame = F.normalize(frame, schema.names)
    if len(frame) == 0:
        raise DataError("the frame to fit a baseline on is empty; check the data and any filters")
    xp = _xp(frame)
    if task is None:
        if kind == "random_forest":
            y0 = _label_array(frame, schema.label)
            task = "binary" if bool(xp.all((y0 == 0) | (y0 == 1))) else "regression"
        else:
            task = _TASKS[kind][0]
    if task not in _TASKS[kind]:
        raise ParameterError(f"{where}: kind {kind!r} does not fit a {task} task; it fits {list(_TASKS[kind])}")
    y = _labels(frame, schema, task)
    if task == "binary":
        y = y.astype(xp.int32)  # classifiers want class labels, cuML's forest int32 ones
    onehot = _ONEHOT[kind]
    base = Baseline(kind=kind, task=task, backend=backend, estimator=None, schema=schema, onehot=onehot,
                    params=dict(params))
    est = _checked_estimator(backend, kind, task, dict(params), seed, where)
    x = base._matrix(frame)
    t0 = time.perf_counter()
    base.estimator = est.fit(x, y)
    base.fit_seconds = time.perf_counter() - t0
    return base
