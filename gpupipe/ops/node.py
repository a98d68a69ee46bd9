"""Selectors and the ``columns >> op >> op`` graph.

A :class:`Node` is a selection of input columns followed by a chain of ops. It is built with
``>>``: a column name, a list of names or a Node on the left, an op instance on the right::

    ["distance", "dep_hour"] >> ops.FillMissing() >> ops.Normalize()
    "carrier" >> ops.Categorify()

Python evaluates ``a >> op1 >> op2`` left to right, so ``list >> op`` goes through
:meth:`Op.__rrshift__ <gpupipe.ops.base.Op.__rrshift__>` (which calls :meth:`Node.coerce`) and
every later ``>>`` through :meth:`Node.__rshift__`. Nodes are immutable: ``>>`` returns a new
Node, so a partial chain can be reused as a prefix of several longer ones (its op instances are
then shared, which :class:`~gpupipe.workflow.Workflow` refuses; build one op per use).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ParameterError, SchemaError

__all__ = ["Node"]


class Node:
    """Input columns and the ops applied to them, in order.

    Parameters
    ----------
    selection : str or list of str
        Input column names (a list, tuple, pandas Index or NumPy array of ``str``).
    ops : Op or sequence of Op, optional
        The chain, first applied first. A single op is the chain of that one op, as in
        ``selection >> op``; ``()`` (the default) is no op.

    Examples
    --------
    >>> from gpupipe import ops
    >>> node = ["a", "b"] >> ops.FillMissing(fill_value=0) >> ops.Clip(lower=0)
    >>> node.selection, node.output_columns()
    (['a', 'b'], ['a', 'b'])
    """

    __slots__ = ("ops", "selection")

    def __init__(self, selection: str | Sequence[str], ops: Sequence[Any] = ()) -> None:
        self.selection = _check_selection(selection)
        self.ops = _check_ops(ops)

    @classmethod
    def coerce(cls, obj: Any) -> Node:
        """``obj`` as a Node: a Node is returned as is, a name or list of names is wrapped."""
        if isinstance(obj, Node):
            return obj
        return cls(obj)

    def __rshift__(self, op: Any) -> Node:
        from .base import Op

        if isinstance(op, type) and issubclass(op, Op):
            msg = (f"`>> {op.__name__}` got the op class {op.__name__}, not an op; pass an instance: "
                   f"`>> ops.{op.__name__}()` (with its parameters, if any)")
            raise ParameterError(msg)
        if not isinstance(op, Op):
            msg = (f"`>>` expects a gpupipe op (for example ops.Normalize()), got {type(op).__name__} "
                   f"{op!r:.60}")
            raise ParameterError(msg)
        return Node(self.selection, (*self.ops, op))

    def __rrshift__(self, other: Any) -> Node:
        # `["a"] >> node` would silently drop the node's own selection; say so instead.
        msg = (f"cannot apply a Node to {other!r:.60}: a Node already selects {self.selection}; "
               "chain ops onto it with `node >> op`")
        raise ParameterError(msg)

    def steps(self) -> list[tuple[Any, list[str]]]:
        """``(op, input column names)`` for each op of the chain, in order."""
        out = []
        cols = list(self.selection)
        for op in self.ops:
            out.append((op, cols))
            cols = list(op.output_columns(cols))
        return out

    def output_columns(self) -> list[str]:
        """Names of the columns the node produces (its selection when it has no ops)."""
        cols = list(self.selection)
        for op in self.ops:
            cols = list(op.output_columns(cols))
        return cols

    def __repr__(self) -> str:
        return " >> ".join([repr(self.selection), *(repr(op) for op in self.ops)])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and self.selection == other.selection and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]  # mutable ops inside; not a dict key


def _check_ops(ops: Any) -> tuple[Any, ...]:
    """``ops`` as a tuple of op instances: a single op is the chain of that op (as ``selection >> op``
    builds); anything else is a ParameterError naming Node and ``ops``, before a Workflow is built."""
    from .._validate import fail
    from .base import Op

    accepted = "an op or a list of ops (for example [ops.FillMissing(), ops.Normalize()]; () for none)"
    if isinstance(ops, Op):
        return (ops,)
    if isinstance(ops, type) and issubclass(ops, Op):
        fail("Node", "ops", ops, accepted, f"pass an instance: ops.{ops.__name__}()")
    listed = None if isinstance(ops, (str, bytes, Mapping)) or not isinstance(ops, Iterable) else list(ops)
    if listed is None:
        hint = ("None is not a chain: pass () for no ops" if ops is None else
                "a string is not an op" if isinstance(ops, str) else "")
        fail("Node", "ops", ops, accepted, hint)
    for i, op in enumerate(listed):
        if isinstance(op, type) and issubclass(op, Op):
            fail("Node", "ops", ops, accepted, f"ops[{i}] is the class {op.__name__}; pass an instance: "
                 f"ops.{op.__name__}()")
        if not isinstance(op, Op):
            fail("Node", "ops", ops, accepted, f"ops[{i}] is {op!r:.60} ({type(op).__name__}), not a gpupipe op")
    return tuple(listed)


def _check_selection(selection: Any) -> list[str]:
    from .._validate import sequence_of

    if isinstance(selection, str):
        names = [selection]
    elif (listed := sequence_of(selection)) is not None:  # list, tuple, pandas Index, 1-D NumPy array
        names = [str(n) if isinstance(n, str) else n for n in listed]  # np.str_ -> str
    else:
        msg = (f"a column selection must be a column name or a list of names (a list, tuple, pandas Index or "
               f"NumPy array of str), got {type(selection).__name__} {selection!r:.60}")
        raise ParameterError(msg)
    if not names:
        raise SchemaError("a column selection is empty; name at least one column")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        msg = f"column names must be strings, got {bad!r:.80} in the selection {names!r:.120}"
        raise SchemaError(msg)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = f"the selection {names} names {dupes} more than once; list each column once"
        raise SchemaError(msg)
    return names
