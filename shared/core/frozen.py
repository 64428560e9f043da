"""Immutable JSON values: what ``get_config`` returns for a ``json`` entry.

A warm read returns the same object every time (it is memoized), so a caller must not
be able to change it for the next reader. ``freeze`` turns a parsed JSON value into
:class:`FrozenDict` / :class:`FrozenList`, subclasses of ``dict`` and ``list`` (so
``isinstance(value, dict)``, ``json.dumps`` and pydantic work unchanged) whose mutating
methods raise ``TypeError``. ``copy.copy`` / ``copy.deepcopy`` give plain, mutable
copies for a caller that wants to edit one.

>>> mapping = freeze({"a": [1, 2]})
>>> mapping["a"].append(3)
Traceback (most recent call last):
TypeError: this config value is read-only; copy.deepcopy(value) gives a mutable copy
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

_READ_ONLY = "this config value is read-only; copy.deepcopy(value) gives a mutable copy"


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenDict(dict[str, Any]):
    """A JSON object that cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A JSON array that cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """``value`` (parsed JSON) with every object and array made read-only."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value
