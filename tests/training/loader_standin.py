"""A small in-memory loader with gp.Loader's attributes, for training tests; plus a learnable task."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from gpupipe.schema import ColumnSchema, Schema


class StandInLoader:
    """Batches of (cont, cat, label) tensors with len(), schema, device, num_rows, batch_size, set_epoch."""

    def __init__(self, cont, cat, label, batch_size=256, shuffle=False, seed=0, schema=None, device="cpu",
                 drop_last=False):
        self.cont, self.cat, self.label = cont.to(device), cat.to(device), label.to(device)
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.schema, self.device = schema, torch.device(device)
        self.num_rows = int(label.shape[0])
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        full, rest = divmod(self.num_rows, self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_rows, generator=g).to(self.device)
        else:
            order = torch.arange(self.num_rows, device=self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield SimpleNamespace(cont=self.cont[idx], cat=self.cat[idx], label=self.label[idx])


def make_schema(n_cont=3, cards=(10, 5), label=True, task="binary"):
    cols = [ColumnSchema(f"x{i}", "cont", "float32") for i in range(n_cont)]
    cols += [ColumnSchema(f"c{i}", "cat", "int64", c) for i, c in enumerate(cards)]
    if label:
        cols.append(ColumnSchema("y", "label", "float32"))
    return Schema(cols)


def learnable(n=4000, seed=0, task="binary", n_cont=3, cards=(10, 5)):
    """cont [n, C], cat [n, K], label [n] where the label depends on both cont and cat features."""
    g = torch.Generator().manual_seed(seed)
    cont = torch.randn(n, n_cont, generator=g)
    cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in cards], dim=1)
    effect = torch.linspace(-1.5, 1.5, cards[0])[cat[:, 0]]
    signal = 2.0 * cont[:, 0] - 1.0 * cont[:, 1] + effect
    if task == "binary":
        label = (torch.rand(n, generator=g) < torch.sigmoid(signal)).float()
    else:
        label = signal + 0.3 * torch.randn(n, generator=g)
    return cont, cat, label


def loaders(n=4000, batch_size=256, task="binary", seed=0, shuffle=True, device="cpu"):
    schema = make_schema(task=task)
    cont, cat, label = learnable(n, seed=seed, task=task)
    k = int(n * 0.75)
    train = StandInLoader(cont[:k], cat[:k], label[:k], batch_size, shuffle=shuffle, seed=seed, schema=schema,
                          device=device)
    val = StandInLoader(cont[k:], cat[k:], label[k:], 1024, schema=schema, device=device)
    return schema, train, val
