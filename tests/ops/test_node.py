"""``Node(selection, ops=...)`` built by hand: its ``ops`` follow the argument rules, like ``>>``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import ParameterError
from gpupipe.ops import Node


@pytest.mark.parametrize(("bad", "hint"), [
    # the old code: None and a single op gave tuple()'s bare TypeError; 'x' and [1] were stored and
    # failed as an AttributeError when the Workflow was built
    (None, r"got None \(NoneType\); None is not a chain: pass \(\) for no ops"),
    ("x", r"got 'x' \(str\); a string is not an op"),
    ([1], r"got \[1\] \(list\); ops\[0\] is 1 \(int\), not a gpupipe op"),
    ([ops.LogOp(), "Normalize"], r"ops\[1\] is 'Normalize' \(str\), not a gpupipe op"),
    (ops.LogOp, r"pass an instance: ops\.LogOp\(\)"),
    ([ops.LogOp], r"ops\[0\] is the class LogOp; pass an instance: ops\.LogOp\(\)"),
    ({"op": ops.LogOp()}, r"got \{'op': LogOp\(\)\} \(dict\)"),
    (5, r"got 5 \(int\)"),
])
def test_node_ops_that_are_not_ops_are_refused_naming_node_and_ops(bad, hint) -> None:
    with pytest.raises(ParameterError, match=r"^Node: ops must be an op or a list of ops .*" + hint):
        Node(["a"], ops=bad)


def test_a_single_op_is_the_chain_of_that_op_as_with_rshift() -> None:
    op = ops.LogOp()
    assert Node(["a"], ops=op) == (["a"] >> op)
    assert Node(["a"], op).ops == (op,)
    two = [ops.FillMissing(fill_value=0), ops.LogOp()]
    assert Node(["a"], ops=two).ops == tuple(two)
    assert Node(["a"], ops=iter(two)).ops == tuple(two)  # any iterable of ops, as before
    assert Node(["a"], ops=np.array(two, dtype=object)).ops == tuple(two)
    assert Node(["a"]).ops == ()
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    out = gp.Workflow(Node(["a"], ops=ops.LogOp())).fit_transform(frame)
    np.testing.assert_allclose(out["a"].to_numpy(), np.log1p(frame["a"].to_numpy()))
