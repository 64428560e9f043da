"""Read-only JSON values (shared.core.frozen)."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from shared.core.frozen import FrozenDict, FrozenList, freeze

VALUE = {"map": {"a": "b"}, "list": [1, {"c": [2]}], "n": None}


def test_freeze_keeps_the_value_and_its_types() -> None:
    frozen = freeze(VALUE)
    assert frozen == VALUE
    assert isinstance(frozen, dict) and isinstance(frozen["list"], list)
    assert isinstance(frozen["list"][1]["c"], FrozenList)
    assert json.loads(json.dumps(frozen)) == VALUE


@pytest.mark.parametrize("change", [
    lambda v: v.__setitem__("n", 1),
    lambda v: v.pop("n"),
    lambda v: v.update(x=1),
    lambda v: v.setdefault("x", 1),
    lambda v: v.clear(),
    lambda v: v["map"].__delitem__("a"),
    lambda v: v["list"].append(3),
    lambda v: v["list"].__setitem__(0, 9),
    lambda v: v["list"].sort(),
    lambda v: v["list"][1]["c"].extend([3]),
])
def test_no_change_gets_through(change: Callable[[Any], Any]) -> None:
    frozen = freeze(VALUE)
    with pytest.raises(TypeError):
        change(frozen)
    assert frozen == VALUE


def test_in_place_operators_are_refused() -> None:
    frozen = freeze(VALUE)
    items = frozen["list"]
    with pytest.raises(TypeError):
        items += [1]
    mapping = frozen["map"]
    with pytest.raises(TypeError):
        mapping |= {"x": 1}
    assert frozen == VALUE


def test_copies_are_plain_and_mutable() -> None:
    frozen = freeze(VALUE)
    deep = copy.deepcopy(frozen)
    assert type(deep) is dict and type(deep["list"]) is list and type(deep["list"][1]) is dict
    deep["list"].append(3)
    assert frozen == VALUE
    assert type(copy.copy(frozen)) is dict
    assert type(pickle.loads(pickle.dumps(frozen))) is dict  # noqa: S301 - our own bytes


def test_pydantic_models_accept_frozen_values() -> None:
    class Mapping(BaseModel):
        map: dict[str, str]
        list: list[Any]

    model = Mapping.model_validate(freeze(VALUE))
    model.list.append("mine")  # the model holds its own copy
    assert isinstance(freeze({}), FrozenDict)
