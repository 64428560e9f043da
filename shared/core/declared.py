"""Declared config: a pydantic model whose fields are config keys (DESIGN "Declared config
and readiness"). Pure logic shared by :meth:`OrganizationContext.load` (which reads the
values), readiness (which reads none) and the write warnings.

Each field names a key (its alias, or its name) and, by its annotation, which stored
``Type`` fits it: ``int`` an ``int`` entry, ``float`` an ``int`` or ``float`` one, ``str``
(and ``Literal`` strings, URLs, e-mail addresses...) a ``string`` one, ``bool`` a ``bool``
one, a ``dict``/``list``/model a ``json`` one, ``SecretStr`` a ``secret_ref`` and nothing
else. A stored Type that does not fit is ``wrong_type``; a value of the right Type that
breaks a constraint (a range, a pattern, a literal, a URL) is ``invalid``. Messages name
keys, types and constraints, never a value (pydantic's errors are taken without input).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import MultiHostUrl, Url

from shared.core.naming import validate_config_key
from shared.core.values import ConfigEntry, ValueType, parse_value
from shared.errors import ConfigError, ConfigProblem, ProblemKind

#: stored types that fit a non-secret field of unknown shape (pydantic decides)
_PLAIN: frozenset[ValueType] = frozenset({"string", "int", "float", "bool", "json"})
_STRING_LIKE: tuple[type, ...] = (str, Url, MultiHostUrl, uuid.UUID, dt.datetime, dt.date,
                                  dt.time, dt.timedelta, PurePath)
#: pydantic error types, besides ``*_type``, that mean "not of that type" rather than
#: "breaks a constraint"
_TYPE_ERRORS = {"model_type", "model_attributes_type", "dataclass_type", "is_instance_of",
                "is_subclass_of", "callable_type", "none_required"}


@dataclass(frozen=True)
class DeclaredKey:
    """One field of a declared config model: the key it reads and what may be stored."""

    key: str
    field: str
    #: the stored Types that fit (``{"secret_ref"}`` for a SecretStr field)
    types: frozenset[ValueType]
    required: bool

    @property
    def secret(self) -> bool:
        return self.types == frozenset({"secret_ref"})

    @property
    def shape(self) -> str:
        """The fitting Types as shown to people: ``int``, ``float or int``, ``secret_ref``."""
        if self.types == _PLAIN:
            return "any non-secret type"
        return " or ".join(sorted(self.types))

    @property
    def expected_type(self) -> ValueType | None:
        """One stored Type that fits, for a form to offer: the only one, ``float`` for a
        float field (an ``int`` fits too), else the first of :attr:`shape`; None when any
        non-secret Type fits."""
        if self.types == _PLAIN or not self.types:
            return None
        if self.types == frozenset({"float", "int"}):
            return "float"
        return sorted(self.types)[0]

    def compatible(self, other: DeclaredKey) -> bool:
        """Whether one stored entry can satisfy both declarations (constraints aside)."""
        return bool(self.types & other.types)


def _types_of(annotation: Any) -> frozenset[ValueType]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found: set[ValueType] = set()
        for member in get_args(annotation):
            if member is not type(None):
                found |= _types_of(member)
        return frozenset(found)
    if origin is Literal:
        return frozenset(_literal_type(v) for v in get_args(annotation))
    if origin is not None:  # dict[...], list[...], tuple[...]...
        return frozenset({"json"})
    if not isinstance(annotation, type):
        return _PLAIN  # Any, a TypeVar, a type alias pydantic understands
    if issubclass(annotation, SecretStr):
        return frozenset({"secret_ref"})
    if issubclass(annotation, enum.Enum):
        return frozenset(_literal_type(m.value) for m in annotation)
    if issubclass(annotation, bool):
        return frozenset({"bool"})
    if issubclass(annotation, int):
        return frozenset({"int"})
    if issubclass(annotation, float | decimal.Decimal):
        return frozenset({"float", "int"})
    if issubclass(annotation, _STRING_LIKE) or _is_pydantic_string(annotation):
        return frozenset({"string"})
    if issubclass(annotation, dict | list | tuple | set | frozenset | BaseModel):
        return frozenset({"json"})
    return _PLAIN


def _is_pydantic_string(annotation: type) -> bool:
    """pydantic's URL and e-mail types (their classes vary between pydantic versions)."""
    module = getattr(annotation, "__module__", "")
    return module.startswith("pydantic.networks") or module.startswith("pydantic_extra_types")


def _literal_type(value: object) -> ValueType:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


def declared_keys(model: type[BaseModel]) -> list[DeclaredKey]:
    """The keys a config model declares, in field order. A key declared twice, or a name
    that is not a config key, is a :class:`ValueError` (raised when it registers)."""
    found: list[DeclaredKey] = []
    seen: set[str] = set()
    for name, field in model.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else \
            field.alias or name
        try:
            validate_config_key(key)
        except ConfigError:
            raise ValueError(f"field {name!r} of {model.__name__} names {key!r}, which is not "
                             "a config key (letters, digits, '_', '.', '-'; a letter first)"
                             ) from None
        if key in seen:
            raise ValueError(f"{model.__name__} declares config key {key!r} twice")
        seen.add(key)
        found.append(DeclaredKey(key, name, _types_of(field.annotation), field.is_required()))
    return found


def type_problem(decl: DeclaredKey, entry: ConfigEntry) -> ConfigProblem | None:
    """``wrong_type`` when the entry's stored Type cannot fill the field (or its value does
    not parse as that Type); None when it can."""
    if decl.secret and not entry.is_secret_ref:
        return ConfigProblem(decl.key, "wrong_type", f"config key {decl.key!r} is a "
                             f"{entry.type} entry; the workflow needs a secret_ref (its field "
                             f"{decl.field!r} is a SecretStr)", expected_type="secret_ref")
    if not decl.secret and entry.is_secret_ref:
        return ConfigProblem(decl.key, "wrong_type", f"config key {decl.key!r} is a "
                             f"secret_ref; field {decl.field!r} is not a SecretStr, so a secret "
                             "cannot be passed to it (annotate it as pydantic.SecretStr, or "
                             f"store {decl.shape})", expected_type=decl.expected_type)
    if entry.type not in decl.types:
        return ConfigProblem(decl.key, "wrong_type", f"config key {decl.key!r} is stored as "
                             f"{entry.type} ({entry.scope}); the workflow needs {decl.shape}",
                             expected_type=decl.expected_type)
    try:
        parse_value(entry)
    except ConfigError:
        return ConfigProblem(decl.key, "wrong_type", f"the stored value of config key "
                             f"{decl.key!r} ({entry.scope}) does not parse as its type "
                             f"{entry.type}", expected_type=entry.type)
    return None


def validation_problems(model: type[BaseModel], data: Mapping[str, Any],
                        skip: Iterable[str] = ()) -> list[ConfigProblem]:
    """Validate ``data`` (key -> parsed value) against ``model``: one problem per key that
    fails, none for the keys in ``skip`` (already reported, or not checkable)."""
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
    else:
        return []
    skipped, problems = set(skip), {}
    fits = {d.key: d.expected_type for d in declared_keys(model)}
    for err in errors:
        loc = err["loc"]
        key = str(loc[0]) if loc else "*"
        if key in skipped or key in problems:
            continue
        kind = err["type"]
        where = ".".join(str(p) for p in loc[1:])
        text = f"{where}: {err['msg']}" if where else err["msg"]
        problem: ProblemKind
        if kind == "missing":
            problem, message = "missing", f"config key {key!r} is not set for the org nor " \
                "in GLOBAL"
        else:
            # the stored Type fits already (type_problem): a string that is not a URL or a
            # date (``url_parsing``...) breaks a constraint; a value inside a json entry of
            # another type (``string_type``, ``int_parsing`` of a text) is of the wrong type
            nested_parse = len(loc) > 1 and kind.endswith("_parsing")
            problem = "wrong_type" if kind.endswith("_type") or kind in _TYPE_ERRORS or \
                nested_parse else "invalid"
            message = f"config key {key!r}: {text}"
        problems[key] = ConfigProblem(key, problem, message, expected_type=fits.get(key))
    return list(problems.values())


def missing_problem(decl: DeclaredKey, org_id: str) -> ConfigProblem:
    return ConfigProblem(decl.key, "missing", f"config key {decl.key!r} is not set for org "
                         f"{org_id!r} nor in GLOBAL (the workflow needs {decl.shape})",
                         expected_type=decl.expected_type)
