"""gp.baselines.fit matches direct scikit-learn fits on the same features, and scores with gp's metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn import ensemble, linear_model
from sklearn import metrics as skm
from sklearn.preprocessing import OneHotEncoder

import gpupipe as gp
from gpupipe.errors import DataError, SchemaError
from gpupipe.schema import ColumnSchema, Schema

CARDS = {"c0": 6, "c1": 40}


def _frame(n=3000, seed=0, task="binary"):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x0": rng.normal(size=n).astype("float32"),
        "x1": rng.normal(size=n).astype("float32"),
        "c0": rng.integers(0, CARDS["c0"], n),
        "c1": rng.integers(0, CARDS["c1"], n),
    })
    signal = 1.5 * df["x0"] - df["x1"] + np.linspace(-1, 1, CARDS["c0"])[df["c0"]] + 0.05 * (df["c1"] % 7)
    if task == "binary":
        df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-signal))).astype("float32")
    else:
        df["y"] = (signal + rng.normal(scale=0.3, size=n)).astype("float32")
    return df


def _schema():
    return Schema([ColumnSchema("x0", "cont", "float32"), ColumnSchema("x1", "cont", "float32"),
                   ColumnSchema("c0", "cat", "int64", CARDS["c0"]), ColumnSchema("c1", "cat", "int64", CARDS["c1"]),
                   ColumnSchema("y", "label", "float32")])


def _onehot(df):
    enc = OneHotEncoder(categories=[list(range(CARDS[c])) for c in CARDS])
    return sparse.hstack([sparse.csr_matrix(df[["x0", "x1"]].to_numpy(np.float64)),
                          enc.fit_transform(df[list(CARDS)])], format="csr")


def _expected_binary(y, p):
    return {"auc": skm.roc_auc_score(y, p), "logloss": skm.log_loss(y, p), "accuracy": skm.accuracy_score(y, p > 0.5)}


def test_logistic_matches_sklearn_on_one_hot_features():
    train, test = _frame(seed=0), _frame(seed=1)
    base = gp.baselines.fit(train, _schema(), kind="logistic")
    direct = linear_model.LogisticRegression(C=1.0, max_iter=200, tol=1e-3).fit(_onehot(train), train["y"].astype(int))
    p = direct.predict_proba(_onehot(test))[:, 1]
    np.testing.assert_allclose(base.predict(test), p, rtol=1e-6, atol=1e-9)
    assert base.score(test) == pytest.approx(_expected_binary(test["y"], p), rel=1e-6)
    assert base.task == "binary" and base.backend == "pandas" and base.fit_seconds > 0


def test_random_forest_matches_sklearn_on_integer_ids():
    train, test = _frame(seed=0), _frame(seed=1)
    base = gp.baselines.fit(train, _schema(), kind="random_forest", n_estimators=20, seed=3)
    cols = ["x0", "x1", "c0", "c1"]
    direct = ensemble.RandomForestClassifier(n_estimators=20, max_depth=10, min_samples_leaf=20, max_samples=0.2,
                                             max_features="sqrt", random_state=3, n_jobs=-1)
    direct.fit(train[cols].to_numpy(np.float32), train["y"].astype(int))
    p = direct.predict_proba(test[cols].to_numpy(np.float32))[:, 1]
    assert base.score(test) == pytest.approx(_expected_binary(test["y"], p), rel=1e-9)
    assert base.score(test)["auc"] > 0.7


@pytest.mark.parametrize("kind,cls", [("linear", linear_model.LinearRegression), ("ridge", linear_model.Ridge)])
def test_linear_kinds_match_sklearn_on_one_hot_features(kind, cls):
    train, test = _frame(seed=0, task="regression"), _frame(seed=1, task="regression")
    base = gp.baselines.fit(train, _schema(), kind=kind)
    direct = cls().fit(_onehot(train).toarray(), train["y"])  # dense solver as the oracle
    pred = direct.predict(_onehot(test).toarray())
    y = test["y"].to_numpy()
    got = base.score(test)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-4)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-4)


def test_random_forest_infers_regression_from_the_label():
    train = _frame(n=800, task="regression")
    base = gp.baselines.fit(train, _schema(), kind="random_forest", n_estimators=5)
    assert base.task == "regression" and set(base.score(train)) == {"rmse", "mae"}


def test_bad_input_is_a_clear_error():
    df, s = _frame(n=200), _schema()
    with pytest.raises(ValueError, match="kind must be one of"):
        gp.baselines.fit(df, s, kind="xgboost")
    with pytest.raises(ValueError, match="regression"):
        gp.baselines.fit(df, s, kind="logistic", task="regression")
    with pytest.raises(SchemaError, match=r"\['c1'\]"):
        gp.baselines.fit(df.drop(columns="c1"), s)
    with pytest.raises(SchemaError, match="no label"):
        gp.baselines.fit(df, Schema([c for c in s if c.role != "label"]))
    nan = df.copy()
    nan.loc[3, "x1"] = np.nan
    with pytest.raises(DataError, match=r"\['x1'\].*FillMissing"):
        gp.baselines.fit(nan, s)
    wide = df.copy()
    wide.loc[0, "c0"] = CARDS["c0"]  # outside the schema's cardinality
    with pytest.raises(DataError, match=r"'c0'.*out-of-range"):
        gp.baselines.fit(wide, s)
    odd = df.copy()
    odd.loc[0, "y"] = 2.0
    with pytest.raises(DataError, match="0/1"):
        gp.baselines.fit(odd, s, kind="logistic")
    with pytest.raises(DataError, match="empty"):
        gp.baselines.fit(df.iloc[:0], s)


def test_nullable_integer_ids_from_files_are_accepted():
    df = _frame(n=500)
    df["c0"] = df["c0"].astype("Int64")  # what gp.read_parquet gives on pandas
    base = gp.baselines.fit(df, _schema(), kind="logistic")
    assert 0.0 <= base.score(df)["auc"] <= 1.0


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["logistic", "random_forest", "ridge"])
def test_cuml_baselines_score_like_sklearn(kind):
    cudf = pytest.importorskip("cudf")
    pytest.importorskip("cuml")
    task = "regression" if kind == "ridge" else "binary"
    train, test = _frame(seed=0, task=task), _frame(seed=1, task=task)
    gpu = gp.baselines.fit(cudf.from_pandas(train), _schema(), kind=kind)
    cpu = gp.baselines.fit(train, _schema(), kind=kind)
    assert gpu.backend == "cudf"
    got, want = gpu.score(cudf.from_pandas(test)), cpu.score(test)
    for key in want:  # different solvers (and quantile splits in cuML's forest): close, not equal
        assert got[key] == pytest.approx(want[key], rel=0.05, abs=0.02)


class _Recorder:
    """Stands in for the estimator: records what fit is given."""

    def __init__(self) -> None:
        self.x = self.y = None

    def fit(self, x, y):
        self.x, self.y = x, y
        return self


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["logistic", "ridge", "linear"])
def test_cudf_linear_baselines_get_the_one_hot_matrix_sparse(kind, monkeypatch):
    """On cuDF the linear kinds get a CuPy CSR matrix (int32 indices, nothing densified), the same matrix as
    scikit-learn gets on pandas. Needs cuDF and CuPy only: the estimator is replaced by a recorder."""
    from helpers import require_cudf

    require_cudf()
    import cupyx.scipy.sparse

    import gpupipe.baselines as baselines

    task = "binary" if kind == "logistic" else "regression"
    df = _frame(n=500, task=task)
    seen = {}
    for backend in ("pandas", "cudf"):
        recorder = _Recorder()

        class _Make:
            @staticmethod
            def impl(name, _r=recorder):
                return lambda *a, **k: _r

        monkeypatch.setattr(baselines, "make_estimator", _Make)
        with gp.use_backend(backend):
            gp.baselines.fit(gp.from_pandas(df), _schema(), kind=kind)
        seen[backend] = recorder.x
    gpu, cpu = seen["cudf"], seen["pandas"]
    assert isinstance(gpu, cupyx.scipy.sparse.csr_matrix), type(gpu)
    assert gpu.indices.dtype == np.int32 and gpu.indptr.dtype == np.int32
    width = 2 + sum(CARDS.values())
    assert gpu.shape == cpu.shape == (500, width) and gpu.nnz == cpu.nnz == 500 * 4  # 2 values + 2 ones per row
    np.testing.assert_allclose(gpu.get().toarray(), cpu.toarray(), rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["logistic", "ridge"])
def test_cuml_linear_models_are_fitted_on_the_sparse_matrix(kind, monkeypatch):
    from helpers import require_cudf

    require_cudf()
    cuml = pytest.importorskip("cuml")
    import cupyx.scipy.sparse

    cls = cuml.linear_model.LogisticRegression if kind == "logistic" else cuml.linear_model.Ridge
    real_fit = cls.fit
    inputs = []

    def recording_fit(self, x, y, *args, **kwargs):
        inputs.append(x)
        return real_fit(self, x, y, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", recording_fit)
    task = "binary" if kind == "logistic" else "regression"
    with gp.use_backend("cudf"):
        base = gp.baselines.fit(gp.from_pandas(_frame(task=task)), _schema(), kind=kind)
        score = base.score(gp.from_pandas(_frame(seed=1, task=task)))
    assert len(inputs) == 1 and isinstance(inputs[0], cupyx.scipy.sparse.csr_matrix), [type(x) for x in inputs]
    assert all(np.isfinite(v) for v in score.values())


def test_fractional_float_ids_are_refused_as_to_tensors_refuses_them():
    df, s = _frame(n=400), _schema()
    df["c0"] = df["c0"].astype("float64")
    whole = gp.baselines.fit(df, s, kind="logistic").predict(df)
    df.loc[0, "c0"] = 1.5  # was truncated to id 1 by the int64 cast: fitted and scored as if it were 1
    for kind in ("logistic", "random_forest"):
        with pytest.raises(SchemaError, match=r"'c0' is float with non-integer values \(e.g. \[1.5\]\)"):
            gp.baselines.fit(df, s, kind=kind)
    with pytest.raises(SchemaError, match="non-integer"):
        gp.to_tensors(df, s)  # the same rule as the tensors
    ok = df.copy()
    ok.loc[0, "c0"] = 1.0  # whole floats are ids
    assert gp.baselines.fit(ok, s, kind="logistic").predict(ok).shape == whole.shape


def test_text_label_and_empty_frames_are_gpupipe_errors():
    df, s = _frame(n=300), _schema()
    text = df.assign(y=df["y"].map({0.0: "no", 1.0: "yes"}))
    for kind in ("logistic", "random_forest"):  # was a bare ValueError "could not convert string to float: 'no'"
        with pytest.raises(SchemaError, match=r"label column 'y' has dtype str, which is not numeric"):
            gp.baselines.fit(text, s, kind=kind)
    base = gp.baselines.fit(df, s, kind="logistic")
    with pytest.raises(SchemaError, match="not numeric"):
        base.score(text)
    cats = df.assign(y=pd.Categorical(df["y"].astype(int)))  # categorical 0/1 labels are numbers
    assert base.score(cats) == pytest.approx(base.score(df))
    for call in (base.predict, base.score):  # was scikit-learn's "Found array with 0 sample(s)" ValueError
        with pytest.raises(DataError, match="no rows"):
            call(df.iloc[:0])
