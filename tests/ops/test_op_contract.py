"""Every registered op against the op contract, on every installed backend (scikit-learn's ``parametrize_with_checks``).

The contract (:mod:`gpupipe.ops.base`): ``__init__`` only stores explicit, named parameters, which
``get_params`` returns and which rebuild an equal op; a stateful op raises NotFittedError before
``fit``; ``fit`` returns ``self`` and a second fit gives the same state; ``to_state`` survives JSON
(and its artifact frames parquet) and ``load_state`` on a fresh op gives an identical transform;
``transform`` returns exactly ``output_columns``, with the dtypes ``output_info`` promises. Fitted
state is derived (``is_fitted``: fitted attributes present), never set.

Each op needs one example in :data:`EXAMPLES` (parameters, the columns it is applied to): an op
added to the registry without one fails :func:`test_every_registered_op_has_an_example`, and every
check of that op fails too.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import assert_frame_equal, close_structures, require_cudf, via_arrow

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import SchemaError
from gpupipe.ops import REGISTRY, ColumnInfo


def _frame() -> pd.DataFrame:
    """Small, valid input for every example: floats with a NaN, counts, nullable integers (as pandas reads them
    from files) with a null, text with a null, timestamps, a 0/1 label."""
    n = 12
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    x[3] = np.nan
    return pd.DataFrame({
        "x": x,
        "n": rng.integers(0, 50, n).astype("int64"),
        "k": pd.array([4, 1, None, 7, 1, 1, 4, 9, 0, 4, 2, 1], dtype="Int64"),
        "s": pd.array(["a", "b", "a", None, "c", "a", "b", "b", "a", "c", "a", "d"], dtype="str"),
        "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "y": rng.integers(0, 2, n).astype("float64"),
    })


_EXTERNAL = pd.DataFrame({"s": pd.array(["a", "b", "c"], dtype="str"), "lat": [1.5, 2.5, 3.5],
                          "rank": np.array([3, 1, 2], dtype="int64")})


def _n_positive(frame: Any) -> Any:  # a module-level function: equal to itself after get_params
    return frame["n"] > 5


def _double(series: Any) -> Any:
    return series * 2


@dataclass
class Example:
    params: dict[str, Any]
    columns: list[str]
    #: dtype names of transform's output read as the dtype output_info promises, where the op's docs say
    #: so (DateParts: "pandas' nullable Int64" for int64 with nulls)
    dtype_aliases: dict[str, str] = field(default_factory=dict)
    #: (check name, backend) -> reason, for a check this op fails there (xfail, strict: once the op is
    #: fixed the case passes, fails as XPASS, and the entry must go)
    known_failures: dict[tuple[str, str], str] = field(default_factory=dict)


#: One valid construction per registered op, and the columns of :func:`_frame` it is applied to.
EXAMPLES: dict[str, Example] = {
    "Bucketize": Example({"boundaries": [-0.5, 0.0, 0.5]}, ["x"]),
    "Categorify": Example({"freq_threshold": 2, "max_size": None, "num_oov_buckets": 2}, ["s", "k"]),
    "Clip": Example({"lower": -1.0, "upper": 1.0}, ["x", "n", "k"]),
    "DateParts": Example({"parts": ("year", "month", "day", "dow", "hour")}, ["t"], dtype_aliases={"Int64": "int64"}),
    "Dropna": Example({}, ["x", "s", "k"]),
    "FillMedian": Example({"add_indicator": True}, ["x", "k"]),
    "FillMissing": Example({"fill_value": 0, "add_indicator": True}, ["x", "k"]),
    "Filter": Example({"predicate": _n_positive}, ["n"]),
    "HashBucket": Example({"num_buckets": 10}, ["s", "k"]),
    "JoinExternal": Example({"frame": _EXTERNAL, "on": "s", "how": "left", "columns": None}, ["s"],
                            dtype_aliases={"Int64": "int64"}),
    "JoinGroupby": Example({"cont_cols": ["x"], "stats": ("count", "mean", "std"), "keys": None, "fill_value": 0.0},
                           ["s"]),
    "LambdaOp": Example({"fn": _double, "dtype": "float64"}, ["x"]),
    "LogOp": Example({}, ["n", "k"]),
    "Normalize": Example({}, ["x", "n", "k"]),
    "NormalizeMinMax": Example({}, ["x", "n", "k"]),
    "Rename": Example({"mapping": {"x": "x_raw"}, "postfix": None, "prefix": None}, ["x", "s", "k"]),
    "TargetEncoding": Example({"target": "y", "kfold": 2, "smoothing": 1.0, "seed": 0}, ["s"]),
}

CHECKS = ["params_round_trip", "not_fitted_before_fit", "fit_returns_self", "refit_same_state",
          "state_round_trip", "output_dtypes"]


def _all_ops() -> dict[str, type]:
    """The registry (what a saved workflow may hold) and the ops that cannot be saved (Filter, LambdaOp)."""
    exported = {n: getattr(ops, n) for n in ops.__all__}
    found = {n: c for n, c in exported.items()
             if isinstance(c, type) and issubclass(c, ops.Op) and c not in (ops.Op, ops.StatOp)}
    return {**found, **REGISTRY}


OPS = _all_ops()


def _cases() -> list[Any]:
    return [pytest.param(name, check, id=f"{name}-{check}") for name in sorted(OPS) for check in CHECKS]


def _example(name: str) -> Example:
    example = EXAMPLES.get(name)
    if example is None:
        pytest.fail(f"op {name} is registered but has no entry in EXAMPLES of {__file__}; add one "
                    "(parameters and the columns of _frame() it applies to)")
    return example


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "columns") or hasattr(b, "columns"):
        return a is b or (hasattr(a, "equals") and gp.to_pandas(a).equals(gp.to_pandas(b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _state(op: Any) -> tuple[str, dict[str, pd.DataFrame]]:
    state, artifacts = op.to_state()
    return json.dumps(state, sort_keys=True), {k: gp.to_pandas(v) for k, v in artifacts.items()}


def _fitted(name: str) -> tuple[Any, Any, list[str]]:
    example = _example(name)
    frame = gp.from_pandas(_frame())
    op = OPS[name](**example.params)
    return op.fit(frame, example.columns), frame, example.columns


def check_params_round_trip(name: str) -> None:
    example = _example(name)
    op = OPS[name](**example.params)
    params = op.get_params()
    assert sorted(params) == sorted(example.params), "get_params must return exactly the constructor parameters"
    assert all(_same(params[k], v) for k, v in example.params.items()), (params, example.params)
    again = OPS[name](**params).get_params()
    assert all(_same(again[k], v) for k, v in params.items()), (again, params)


def check_not_fitted_before_fit(name: str) -> None:
    example = _example(name)
    op = OPS[name](**example.params)
    frame = gp.from_pandas(_frame())
    if not op.stateful:
        assert op.is_fitted
        return
    assert not op.is_fitted
    with pytest.raises(gp.NotFittedError):
        op.transform(frame, example.columns)
    with pytest.raises(gp.NotFittedError):
        op.transform_frame(frame, example.columns)


def check_fit_returns_self(name: str) -> None:
    example = _example(name)
    op = OPS[name](**example.params)
    assert op.fit(gp.from_pandas(_frame()), example.columns) is op
    assert op.is_fitted


def check_refit_same_state(name: str) -> None:
    op, frame, columns = _fitted(name)
    first_state, first_artifacts = _state(op)
    first = gp.to_pandas(op.transform_frame(frame, columns))
    op.fit(frame, columns)
    state, artifacts = _state(op)
    assert state == first_state
    assert artifacts.keys() == first_artifacts.keys()
    for key, art in artifacts.items():
        pd.testing.assert_frame_equal(art, first_artifacts[key])
    assert_frame_equal(op.transform_frame(frame, columns), first)


def check_state_round_trip(name: str, tmp_path: Path) -> None:
    op, frame, columns = _fitted(name)
    state, artifacts = op.to_state()
    state = json.loads(json.dumps(state))
    restored = {}
    with gp.use_backend("pandas"):  # artifacts come back as pandas frames, as from a saved workflow
        for key, art in artifacts.items():
            gp.write_parquet(art, tmp_path / f"{key}.parquet")
            restored[key] = gp.read_parquet(tmp_path / f"{key}.parquet")
    fresh = OPS[name](**op.get_params())
    fresh.load_state(state, restored)
    assert fresh.is_fitted
    assert_frame_equal(fresh.transform_frame(frame, columns), op.transform_frame(frame, columns))


def check_output_dtypes(name: str) -> None:
    op, frame, columns = _fitted(name)
    info = {c: ColumnInfo(str(frame[c].dtype)) for c in frame.columns}
    promised = op.output_info(columns, info)
    assert list(promised) == op.output_columns(columns)
    out = op.transform_frame(frame, columns)
    if not op.changes_rows:
        assert list(op.transform(frame, columns).columns) == op.output_columns(columns)
    aliases = _example(name).dtype_aliases
    got = {c: aliases.get(str(out[c].dtype), str(out[c].dtype)) for c in promised}
    assert got == {c: str(ci.dtype) for c, ci in promised.items()}


@pytest.mark.parametrize(("name", "check"), _cases())
def test_op_contract(name: str, check: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    known = EXAMPLES[name].known_failures.get((check, backend)) if name in EXAMPLES else None
    if known is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{name}: {known}"))
    fn = globals()[f"check_{check}"]
    if check == "state_round_trip":
        fn(name, tmp_path)
    else:
        fn(name)


def test_every_registered_op_has_an_example() -> None:
    assert sorted(OPS) == sorted(EXAMPLES), "EXAMPLES must hold exactly one example per op (registered or exported)"
    assert set(REGISTRY) <= set(OPS) and {"Filter", "LambdaOp"} <= set(OPS)


def test_fitted_state_is_derived_never_set() -> None:
    """No module of gpupipe assigns a fitted flag: an op is fitted when its fitted attributes exist."""
    root = Path(gp.__file__).parent
    setters = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            setters += [f"{path.relative_to(root)}:{node.lineno}" for t in targets
                        if isinstance(t, ast.Attribute) and t.attr == "fitted_"]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value == "fitted_":
                setters.append(f"{path.relative_to(root)}:{node.lineno}")
    assert setters == []


# ------------------------------------------------------------------------------ cuDF against pandas
def _input_on(backend: str, nan_as: str) -> Any:
    """_frame() on ``backend``. ``nan_as="null"``: through Arrow, as gp.from_pandas and every reader give it
    (a float NaN becomes a null on cuDF). ``nan_as="nan"``: NaN kept as NaN on cuDF, as cuDF's own float
    results hold them (an op's output, 0/0), which its groupby and null counts treat differently."""
    if backend == "pandas" or nan_as == "null":
        with gp.use_backend(backend):
            return gp.from_pandas(_frame())
    import cudf

    from gpupipe.backend import frame as F

    return F.normalize(cudf.from_pandas(_frame(), nan_as_null=False))


@pytest.mark.gpu
@pytest.mark.parametrize("nan_as", ["null", "nan"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_op_on_cudf_gives_what_it_gives_on_pandas(name: str, nan_as: str) -> None:
    """Every op fitted and applied on cuDF gives the pandas backend's statistics and output: the same values,
    dtypes (both through Arrow, as gp.to_pandas gives a cuDF frame) and columns. Floats within 1e-6 relative: the
    GPU sums in another order, and float32 outputs round the float64 statistics."""
    require_cudf()
    example = _example(name)
    outputs, states = {}, {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend):
            frame = _input_on(backend, nan_as)
            op = OPS[name](**example.params).fit(frame, example.columns)
            got = op.transform_frame(frame, example.columns)
            assert gp.backend.backend_of(got) == backend
            outputs[backend] = via_arrow(got)
            state, artifacts = op.to_state()
            states[backend] = (json.loads(json.dumps(state)),
                               {k: via_arrow(v) for k, v in artifacts.items()})
    pd.testing.assert_frame_equal(outputs["cudf"], outputs["pandas"], check_exact=False, rtol=1e-6, atol=1e-9)
    assert close_structures(states["cudf"][0], states["pandas"][0], rtol=1e-9), (states["cudf"][0], states["pandas"][0])
    assert states["cudf"][1].keys() == states["pandas"][1].keys()
    for key, art in states["pandas"][1].items():
        pd.testing.assert_frame_equal(states["cudf"][1][key], art, check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_selected_column_named_twice_in_the_data_is_named(name: str) -> None:
    """Called on its own (a Workflow refuses such data first), an op given a frame with two columns of a selected
    name raised AttributeError ('DataFrame' object has no attribute 'dtype': ``frame[name]`` is then a frame), or,
    for Rename, returned two columns of the same new name; now a SchemaError naming the column."""
    example = EXAMPLES[name]
    frame = _frame()
    first = example.columns[0]
    doubled = pd.concat([frame, frame[[first]]], axis=1)
    op = OPS[name](**example.params)
    with pytest.raises(SchemaError, match=f"several columns named \\['{first}'\\]"):
        if op.stateful:
            op.fit(doubled, example.columns)
        (op.transform_frame if op.changes_rows else op.transform)(doubled, example.columns)


def test_dropna_of_no_column_drops_no_row() -> None:
    # pandas: df.dropna(subset=[]) keeps every row; the op raised TypeError (bad operand type for unary ~)
    frame = _frame()
    pd.testing.assert_frame_equal(ops.Dropna().transform_frame(frame, []), frame.dropna(subset=[]).reset_index(drop=True))
