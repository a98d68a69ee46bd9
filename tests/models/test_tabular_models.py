"""TabularMLP and DCNv2 built from a schema: sizes, shapes, options, config round trip."""

from __future__ import annotations

import json

import pytest
import torch

import gpupipe as gp
from gpupipe.errors import SchemaError
from gpupipe.models import DCNv2, TabularMLP, embedding_dim_rule
from gpupipe.models.dcn import CrossLayer
from gpupipe.schema import ColumnSchema, Schema


def _schema(n_cont=2, cards=(3, 50, 100_000), label=True):
    cols = [ColumnSchema(f"x{i}", "cont", "float32") for i in range(n_cont)]
    cols += [ColumnSchema(f"c{i}", "cat", "int64", c) for i, c in enumerate(cards)]
    if label:
        cols.append(ColumnSchema("y", "label", "float32"))
    return Schema(cols)


def _batch(schema, n=16):
    cont = torch.randn(n, len(schema.cont))
    cat = torch.stack([torch.randint(0, c, (n,)) for c in schema.cardinalities.values()], dim=1) if schema.cat \
        else torch.zeros(n, 0, dtype=torch.int64)
    return cont, cat


@pytest.mark.parametrize("card", [1, 2, 3, 10, 50, 1000, 10**6])
def test_embedding_rule_is_fastais_formula_capped_at_64(card):
    expected = min(64, round(1.6 * card**0.56))
    assert embedding_dim_rule(card) == max(1, expected)


def test_from_schema_sizes_one_embedding_per_categorical():
    s = _schema()
    model = TabularMLP.from_schema(s, hidden=(8,))
    tables = [(e.num_embeddings, e.embedding_dim) for e in model.inputs.embeddings]
    assert tables == [(c, embedding_dim_rule(c)) for c in (3, 50, 100_000)]
    assert model.cat_names == ["c0", "c1", "c2"] and model.cont_names == ["x0", "x1"]
    assert model.schema == s
    fixed = TabularMLP.from_schema(s, hidden=(8,), embedding_dim=5)
    assert [e.embedding_dim for e in fixed.inputs.embeddings] == [5, 5, 5]
    assert fixed.inputs.out_dim == 5 * 3 + 2


@pytest.mark.parametrize("cls", [TabularMLP, DCNv2])
@pytest.mark.parametrize("n_cont,cards", [(2, (3, 50)), (0, (3, 50)), (3, ())])
def test_forward_gives_one_output_per_row(cls, n_cont, cards):
    s = _schema(n_cont, cards)
    model = cls.from_schema(s, hidden=(8,))
    out = model(*_batch(s))
    assert out.shape == (16,) and out.dtype == torch.float32


def test_options_add_the_layers_they_name():
    s = _schema()
    plain = TabularMLP.from_schema(s, hidden=(8, 4))
    rich = TabularMLP.from_schema(s, hidden=(8, 4), batchnorm=True, dropout=0.2)
    kinds = lambda m: [type(x).__name__ for x in m.modules()]  # noqa: E731
    assert "BatchNorm1d" not in kinds(plain) and "Dropout" not in kinds(plain)
    assert kinds(rich).count("BatchNorm1d") == 3  # continuous inputs + two hidden layers
    assert kinds(rich).count("Dropout") == 2
    rich.eval()
    cont, cat = _batch(s)
    torch.testing.assert_close(rich(cont, cat), rich(cont, cat))  # eval mode: deterministic


def test_config_round_trips_through_json_and_rebuilds_the_same_architecture():
    s = _schema()
    for model in (TabularMLP.from_schema(s, hidden=(8, 4), batchnorm=True, embedding_dim=[2, 3, 4]),
                  DCNv2.from_schema(s, cross_layers=2, low_rank=3, structure="parallel", hidden=(8,))):
        config = json.loads(json.dumps(model.config))
        again = type(model)(**config)
        assert {k: v.shape for k, v in again.state_dict().items()} == \
            {k: v.shape for k, v in model.state_dict().items()}
        assert again.config == model.config


def test_cross_layer_computes_x0_times_wx_plus_b_plus_x():
    torch.manual_seed(0)
    layer = CrossLayer(4)
    x0, x = torch.randn(3, 4), torch.randn(3, 4)
    w, b = layer.proj.weight, layer.proj.bias
    torch.testing.assert_close(layer(x0, x), x0 * (x @ w.T + b) + x)


def test_low_rank_cross_layers_have_fewer_parameters():
    s = _schema(cards=(1000,) * 4)
    count = lambda m: sum(p.numel() for p in m.cross.parameters())  # noqa: E731
    assert count(DCNv2.from_schema(s, low_rank=8)) < count(DCNv2.from_schema(s)) / 4


def test_bad_schemas_and_batches_are_schema_errors():
    with pytest.raises(SchemaError, match="no cont or cat"):
        TabularMLP.from_schema(Schema([ColumnSchema("y", "label", "float32")]))
    with pytest.raises(SchemaError, match=r"gpupipe\.Schema"):
        TabularMLP.from_schema({"columns": []})
    model = TabularMLP.from_schema(_schema(), hidden=(4,))
    with pytest.raises(SchemaError, match=r"c0.*cat of shape \(16, 2\)"):
        model.check_batch(torch.zeros(16, 2), torch.zeros(16, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="task"):
        TabularMLP.from_schema(_schema(), task="multiclass")
    with pytest.raises(ValueError, match="one positive width per column"):
        TabularMLP.from_schema(_schema(), embedding_dim=[2, 3])


def test_models_are_reachable_from_the_package():
    assert gp.models.TabularMLP is TabularMLP and gp.models.DCNv2 is DCNv2
    assert set(gp.models.MODEL_CLASSES) >= {"TabularMLP", "DCNv2"}


def test_numpy_integers_are_accepted_where_python_ints_are():
    import numpy as np

    s = Schema([ColumnSchema("c", "cat", "int64", 10), ColumnSchema("d", "cat", "int64", 5),
                ColumnSchema("y", "label", "float32")])
    for width in (np.int64(8), np.int32(8), 8):
        m = gp.models.TabularMLP.from_schema(s, embedding_dim=width)
        assert m.embedding_dims == [8, 8] and json.loads(json.dumps(m.config))["embedding_dim"] == 8
    assert gp.models.TabularMLP.from_schema(s, embedding_dim=[np.int64(3), 4]).embedding_dims == [3, 4]


@pytest.mark.parametrize("cls", [TabularMLP, DCNv2])
def test_ids_past_an_embedding_table_are_a_data_error_naming_the_column(cls):
    """A hand-made batch (no gp.Loader, whose schema is checked before any batch) with an id outside a column's
    table was torch's bare "IndexError: index out of range in self", naming neither column nor table."""
    schema = _schema(cards=(3, 50, 7))
    model = cls.from_schema(schema, hidden=(4,))
    cont, cat = _batch(schema)
    model(cont, cat)  # in range: fine
    bad = cat.clone()
    bad[[2, 5], 1] = torch.tensor([50, 61])
    with pytest.raises(gp.errors.DataError, match=r"'c1' holds 2 ids outside 0\.\.49 \(from 50 to 61\).*table has 50 rows"):
        model(cont, bad)
    bad = cat.clone()
    bad[0, 2] = -1
    with pytest.raises(gp.errors.DataError, match=r"'c2' holds 1 id outside 0\.\.6 \(-1\)"):
        model(cont, bad)
    unnamed = cls([3, 50, 7], 2, hidden=(4,))  # built without names: the column is named by position
    with pytest.raises(gp.errors.DataError, match=r"categorical column 2 .*1 id outside 0\.\.6"):
        unnamed(cont, bad)
