"""Conditions on generated rows, written as plain Python:

``{"age": (">", 65), "sex": "Female", "hours": ("between", 20, 40), "race": ["A", "B"]}``

- a bare value means *equal to*;
- a list or set means *one of*;
- a tuple ``(op, value)`` with op one of ``==  >  >=  <  <=``;
- ``("between", low, high)`` is the closed interval.

Augmentation (:func:`rebalance`) divides the rows among one column's classes: ``"sex"``
for equal shares, ``("income", {">50K": 3, "<=50K": 1})`` for listed ones.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from . import errors
from ._proto.mirage.v1 import common_pb2

_OPS = {"==": "eq", "=": "eq", ">": "gt", ">=": "ge", "<": "lt", "<=": "le"}


def value(v: Any) -> common_pb2.Value:
    """A protobuf ``Value`` from a Python value."""
    if v is None:
        return common_pb2.Value(null_value=True)
    if isinstance(v, bool):
        return common_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return common_pb2.Value(int_value=v)
    if isinstance(v, float):
        return common_pb2.Value(float_value=v)
    if isinstance(v, str):
        return common_pb2.Value(string_value=v)
    # numpy scalars and the like
    if hasattr(v, "item"):
        return value(v.item())
    raise errors.InvalidArgument(f"conditions: {v!r} is not a value (use None, bool, int, float or str)")


def condition(column: str, spec: Any) -> common_pb2.Condition:
    """One protobuf ``Condition`` for ``column``."""
    if isinstance(spec, tuple):
        if not spec:
            raise errors.InvalidArgument(f"conditions[{column!r}]: an empty tuple says nothing")
        op = spec[0]
        if op == "between":
            if len(spec) != 3:
                raise errors.InvalidArgument(f"conditions[{column!r}]: write ('between', low, high)")
            return common_pb2.Condition(
                column=column,
                between=common_pb2.ValueRange(lower=value(spec[1]), upper=value(spec[2])),
            )
        if op not in _OPS or len(spec) != 2:
            raise errors.InvalidArgument(
                f"conditions[{column!r}]: write (op, value) with op one of {', '.join(_OPS)}, or ('between', low, high)"
            )
        return common_pb2.Condition(column=column, **{_OPS[op]: value(spec[1])})
    if isinstance(spec, (list, set, frozenset)):
        return common_pb2.Condition(column=column, any_of=common_pb2.ValueList(values=[value(v) for v in spec]))
    return common_pb2.Condition(column=column, eq=value(spec))


def conditions(specs: Mapping[str, Any] | Iterable[common_pb2.Condition] | None) -> List[common_pb2.Condition]:
    """Protobuf conditions from a mapping (or already-built conditions)."""
    if specs is None:
        return []
    if isinstance(specs, Mapping):
        return [condition(column, spec) for column, spec in specs.items()]
    return list(specs)


def rebalance(spec: Any) -> Optional[common_pb2.Rebalance]:
    """Augmentation from plain Python: how the rows divide among one column's classes.

    - ``"sex"``: every class of the column gets an equal share (class balancing);
    - ``("income", {">50K": 3, "<=50K": 1})``: the listed classes in those proportions
      (classes not listed get no rows).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return common_pb2.Rebalance(column=spec)
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
        column, shares = spec
        return common_pb2.Rebalance(
            column=column,
            shares=[common_pb2.ClassShare(value=value(v), share=float(s)) for v, s in shares.items()],
        )
    raise errors.InvalidArgument(
        f"rebalance: {spec!r} is not a column name or (column, {{class: share, ...}})"
    )


def describe(specs: Dict[str, Any]) -> str:
    """A short text of the conditions, for messages."""
    return ", ".join(f"{c} {s}" for c, s in specs.items())
