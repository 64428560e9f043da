"""Config entries and typed values: the ``Type`` property and how ``Value`` parses.

Pure logic. Error messages name the key and the expected type but never echo the
stored value: an admin may have stored a credential under the wrong type.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from shared.core.naming import validate_secret_name
from shared.errors import ConfigValueError, InvalidNameError

ValueType = Literal["string", "int", "float", "bool", "json", "secret_ref"]
VALUE_TYPES: tuple[str, ...] = get_args(ValueType)
MAX_VALUE_CHARS = 32_000  # Table Storage holds 64 KiB per string property (UTF-16)
#: Deepest nesting of arrays and objects a ``json`` value may have. Python's parser
#: recurses per level, so a deeper value could exhaust the stack on some read path.
MAX_JSON_DEPTH = 64

_INT = re.compile(r"[+-]?[0-9]+")
_TOKENS = re.compile(r'["\\\[\]{}]')
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One row of the Config table. For ``secret_ref`` the value is a bare secret name."""

    scope: str
    key: str
    value: str
    type: ValueType = "string"
    description: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    etag: str | None = None

    @property
    def is_secret_ref(self) -> bool:
        return self.type == "secret_ref"


def check_type(raw: object) -> ValueType:
    """Return ``raw`` as a ValueType or raise ConfigValueError listing the valid ones."""
    if isinstance(raw, str) and raw in VALUE_TYPES:
        return raw  # type: ignore[return-value]
    shown = repr(raw) if isinstance(raw, str) and len(raw) <= 40 else "that value"
    raise ConfigValueError(f"type {shown} is not one of {', '.join(VALUE_TYPES)}")


def parse_value(entry: ConfigEntry) -> Any:
    """The entry's value as its type: str, int, float, bool or a JSON value.

    A ``secret_ref`` parses to its (validated) secret name; resolving it is the
    secret store's job.
    """
    try:
        return _parse(entry.type, entry.value)
    except (ValueError, InvalidNameError, RecursionError) as exc:
        raise ConfigValueError(
            f"config key {entry.key!r} in scope {entry.scope} is stored as type {entry.type!r} "
            f"but its value does not parse as one ({exc.__class__.__name__}); "
            "fix the entry with the admin API or `python -m shared.cli set`"
        ) from None


def _parse(kind: str, raw: str) -> Any:
    if not isinstance(raw, str):
        raise ValueError("not a string")
    if kind == "string":
        return raw
    if kind == "int":
        if not _INT.fullmatch(raw.strip()):
            raise ValueError("not an integer")
        return int(raw)
    if kind == "float":
        number = float(raw)
        if not math.isfinite(number):
            raise ValueError("not finite")
        return number
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("not a boolean")
    if kind == "json":
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        return json.loads(raw)
    if kind == "secret_ref":
        return validate_secret_name(raw)
    raise ValueError("unknown type")


def validate_value(kind: object, raw: object) -> tuple[ValueType, str]:
    """Validate a value about to be written; returns ``(type, value-as-stored)``.

    Raises :class:`ConfigValueError` (or :class:`InvalidNameError` for a bad
    secret name) without echoing the value.
    """
    value_type = check_type(kind)
    if value_type == "json" and not isinstance(raw, str):
        # API callers may send the JSON value itself rather than its text
        try:
            raw = json.dumps(raw, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ConfigValueError("value is not representable as JSON") from None
    elif isinstance(raw, bool) and value_type == "bool":
        raw = "true" if raw else "false"
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and value_type in (
        "int", "float"
    ):
        raw = repr(raw)
    if not isinstance(raw, str):
        raise ConfigValueError(f"value for type {value_type!r} must be a string")
    if len(raw) > MAX_VALUE_CHARS:
        raise ConfigValueError(f"value is longer than {MAX_VALUE_CHARS} characters")
    if "\x00" in raw:
        raise ConfigValueError("value contains a NUL character")
    if value_type == "secret_ref":
        validate_secret_name(raw)
        return value_type, raw
    if value_type == "json" and json_depth(raw) > MAX_JSON_DEPTH:
        raise ConfigValueError(f"a json value may nest arrays and objects at most "
                               f"{MAX_JSON_DEPTH} levels deep")
    try:
        _parse(value_type, raw)
    except (ValueError, RecursionError):
        raise ConfigValueError(f"value does not parse as type {value_type!r}") from None
    return value_type, raw


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON ``text`` (brackets inside strings do
    not count): one linear pass without recursion, so any input is safe to measure."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for token in _TOKENS.finditer(text):
        char, at = token.group(), token.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
