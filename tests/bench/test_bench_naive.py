"""The flights split rule and the naive reference script."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from pipelines import STAGES
from pipelines._split import VAL_FRACTION, split_flights, validation_days


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    with gp.use_backend("pandas"):
        return gp.datasets.flights(["flights"])["flights"]


def test_validation_days_are_real_distinct_dates_and_seeded():
    days = validation_days(0)
    assert len(set(days)) == len(days) == round(365 * VAL_FRACTION)
    for key in days:
        dt.date(2013, key // 100, key % 100)  # raises if not a real 2013 date
    assert validation_days(0) == validation_days(0)
    assert set(validation_days(0)) != set(validation_days(1))


def test_split_is_by_whole_days_and_about_a_fifth(flights):
    train = split_flights(flights, seed=0)
    assert train.dtype == bool and len(train) == len(flights)
    per_day = pd.DataFrame({"m": flights["month"], "d": flights["day"], "t": train}).groupby(["m", "d"])["t"]
    assert (per_day.nunique() == 1).all()  # no calendar day is split across train and validation
    assert (~per_day.first()).sum() == len(validation_days(0))
    assert 0.15 < 1 - train.mean() < 0.25


def test_split_ignores_row_order_and_subsets(flights):
    sub = flights.sample(n=5000, random_state=3)
    whole = split_flights(flights, seed=7)
    shuffled = split_flights(sub, seed=7)
    np.testing.assert_array_equal(shuffled.to_numpy(), whole.loc[sub.index].to_numpy())


def test_split_names_missing_columns():
    with pytest.raises(gp.SchemaError, match="'day'"):
        split_flights(pd.DataFrame({"month": [1]}), seed=0)


def test_naive_small_run_gives_sane_metrics_and_stages():
    from pipelines import naive

    res = naive.run(rows=4000, seed=1)
    assert res.backend == "naive" and res.pipeline == "flights-delay"
    assert set(res.timings) == {"read", "fit", "transform", "to_tensors", "train", "evaluate", "total"}
    assert set(res.timings) - {"total"} <= set(STAGES)
    assert all(v >= 0 for v in res.timings.values())
    assert res.timings["total"] >= sum(v for k, v in res.timings.items() if k != "total") * 0.99
    # cancelled/diverted flights dropped: a few percent of the sample at most
    assert 0.9 * 4000 < res.rows["train"] + res.rows["val"] <= 4000
    assert 0.1 < res.rows["val"] / (res.rows["train"] + res.rows["val"]) < 0.3
    assert 0.5 < res.metrics["auc"] <= 1.0
    assert math.isfinite(res.metrics["logloss"]) and 0 < res.metrics["logloss"] < 1.0
    assert 0.5 < res.metrics["accuracy"] <= 1.0
    assert len(res.history) == 1 and math.isfinite(res.history[0]["train_loss"])


def test_naive_rejects_bad_arguments():
    from pipelines import naive

    with pytest.raises(ValueError, match="rows"):
        naive.run(rows=0)
    with pytest.raises(ValueError, match="epochs"):
        naive.run(rows=100, epochs=0)


@pytest.mark.slow
def test_naive_full_data_reaches_the_reference_auc():
    from pipelines import naive

    res = naive.run()
    assert res.rows["train"] + res.rows["val"] == 327_346  # every flight with an arrival delay
    assert res.metrics["auc"] > 0.68
