"""Route templates as the Azure Functions host matches them (ASP.NET Core routing).

Pure logic, no I/O. What is imitated, and why each rule is here:

- The template is ``{routePrefix}/{route}``; literals match case-insensitively.
- ``{name}`` matches one non-empty segment; ``{name?}`` may be absent (only last);
  ``{name=default}`` takes ``default`` when absent; ``{*rest}`` / ``{**rest}`` takes the
  rest of the path (possibly empty).
- Constraints ``{id:int}``, chained ``{id:int:min(1)}``: int, long, bool, alpha, guid,
  double, float, decimal, datetime, minlength/maxlength/length, min/max/range, regex
  (unanchored and case-insensitive, as ASP.NET's ``RegexRouteConstraint``), required.
- The path arrives percent-decoded except ``%2F``, which stays ``%2F`` (Kestrel decodes
  the path that way), so route values are decoded but a segment never gains a ``/``.
- A trailing slash is ignored; an empty segment matches no parameter.
- Routes are tried in ASP.NET's inbound precedence (literals before constrained
  parameters before plain parameters before catch-alls); the method is a route
  constraint, so a wrong method falls through to 404 like the host (never 405).
- An absent optional parameter is left out of the route values (the host drops nulls).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_GUID_D = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_GUID_N = re.compile(r"[0-9a-f]{32}", re.I)


class RouteTemplateError(ValueError):
    """A route template this host cannot parse (the message names it)."""


def _integer(value: str, bounds: tuple[int, int]) -> int | None:
    if not _INTEGER.fullmatch(value):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None


def _is_guid(value: str) -> bool:
    inner = value
    if len(value) >= 2 and (value[0], value[-1]) in {("{", "}"), ("(", ")")}:
        inner = value[1:-1]
        return bool(_GUID_D.fullmatch(inner))
    return bool(_GUID_D.fullmatch(inner) or _GUID_N.fullmatch(inner))


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    if not _DECIMAL.fullmatch(value):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


Check = Callable[[str], bool]


def _args(raw: str | None, count: Sequence[int], name: str) -> list[str]:
    args = [] if raw is None else [a.strip() for a in raw.split(",")]
    if len(args) not in count:
        raise RouteTemplateError(f"constraint {name!r} takes {' or '.join(map(str, count))} "
                                 f"argument(s), got {raw!r}")
    return args


def make_constraint(name: str, raw_args: str | None) -> Check:
    """The check of one inline constraint (``int``, ``range(1,10)``, ...)."""
    key = name.lower()
    simple: dict[str, Check] = {
        "int": lambda v: _integer(v, _INT32) is not None,
        "long": lambda v: _integer(v, _INT64) is not None,
        "bool": lambda v: v.lower() in {"true", "false"},
        "alpha": lambda v: bool(re.fullmatch(r"[a-z]*", v, re.I)),
        "guid": _is_guid,
        "double": lambda v: bool(_FLOAT.fullmatch(v)),
        "float": lambda v: bool(_FLOAT.fullmatch(v)),
        "decimal": _is_decimal,
        "datetime": _is_datetime,
        "required": lambda v: v != "",
    }
    if key in simple:
        _args(raw_args, (0,), key)
        return simple[key]
    if key == "regex":
        if raw_args is None:
            raise RouteTemplateError("constraint 'regex' needs a pattern")
        pattern = re.compile(raw_args, re.I)
        return lambda v: pattern.search(v) is not None
    if key in {"minlength", "maxlength"}:
        (n,) = (int(a) for a in _args(raw_args, (1,), key))
        return (lambda v: len(v) >= n) if key == "minlength" else (lambda v: len(v) <= n)
    if key == "length":
        bounds = [int(a) for a in _args(raw_args, (1, 2), key)]
        low, high = (bounds[0], bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return lambda v: low <= len(v) <= high
    if key in {"min", "max", "range"}:
        limits = [int(a) for a in _args(raw_args, (2,) if key == "range" else (1,), key)]
        low = limits[0] if key in {"min", "range"} else _INT64[0]
        high = limits[-1] if key in {"max", "range"} else _INT64[1]

        def within(v: str) -> bool:
            number = _integer(v, _INT64)
            return number is not None and low <= number <= high

        return within
    raise RouteTemplateError(f"unknown route constraint {name!r}")


@dataclass(frozen=True)
class Segment:
    """One path segment of a template: a literal, or one parameter."""

    literal: str | None = None
    name: str = ""
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: tuple[Check, ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)

    @property
    def precedence(self) -> int:
        """ASP.NET's inbound precedence digit: smaller is tried first."""
        if self.literal is not None:
            return 1
        if self.catch_all:
            return 5
        return 3 if self.checks else 4


def _split_outside(text: str, separator: str, brackets: str) -> list[str]:
    """``text`` split on ``separator`` where it stands outside the ``brackets`` pair
    (e.g. ``"()"``): a separator inside them belongs to what they enclose."""
    opening, closing = brackets[0], brackets[1]
    parts, depth, current = [], 0, ""
    for char in text:
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {opening: 1, closing: -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


def _split_constraints(body: str) -> list[str]:
    """``id:int:range(1,5)`` -> ``['id', 'int', 'range(1,5)']`` (colons inside
    parentheses belong to the argument)."""
    return _split_outside(body, ":", "()")


_CONSTRAINT = re.compile(r"(\w+)(?:\((.*)\))?", re.S)


def _parameter(body: str, template: str) -> Segment:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    head, *constraints = _split_constraints(body)
    default = None
    if "=" in head:
        head, default = head.split("=", 1)
    optional = head.endswith("?")
    name = head.rstrip("?")
    if constraints and constraints[-1].endswith("?"):  # {id:int?}
        optional, constraints[-1] = True, constraints[-1][:-1]
    if not re.fullmatch(r"\w+", name):
        raise RouteTemplateError(f"bad parameter {body!r} in route {template!r}")
    checks = []
    for text in constraints:
        match = _CONSTRAINT.fullmatch(text)
        if match is None:
            raise RouteTemplateError(f"bad constraint {text!r} in route {template!r}")
        checks.append(make_constraint(match.group(1), match.group(2)))
    return Segment(name=name, optional=optional or catch_all, default=default,
                   catch_all=catch_all, checks=tuple(checks))


def _segments(template: str) -> list[str]:
    """Split on ``/`` outside braces (a regex argument may hold a slash)."""
    return _split_outside(template, "/", "{}")


def parse_template(template: str) -> tuple[Segment, ...]:
    """The segments of ``template`` (``{{``/``}}`` escape a literal brace)."""
    segments: list[Segment] = []
    raw_parts = [p for p in _segments(template.strip("/")) if p != ""]
    for index, raw in enumerate(raw_parts):
        inner = raw[1:-1].replace("{{", "").replace("}}", "")
        is_parameter = (raw.startswith("{") and not raw.startswith("{{") and raw.endswith("}")
                        and "{" not in inner and "}" not in inner)
        if not is_parameter:
            unescaped = raw.replace("{{", "").replace("}}", "")
            if "{" in unescaped or "}" in unescaped:
                raise RouteTemplateError(
                    f"segment {raw!r} of route {template!r}: only whole-segment parameters "
                    "are supported by this host")
            segments.append(Segment(literal=raw.replace("{{", "{").replace("}}", "}")))
            continue
        body = raw[1:-1].replace("{{", "{").replace("}}", "}")
        segment = _parameter(body, template)
        if segment.catch_all and index != len(raw_parts) - 1:
            raise RouteTemplateError(f"catch-all must be the last segment of {template!r}")
        segments.append(segment)
    for segment in segments[:-1]:
        if segment.optional and not segment.catch_all and segment.default is None:
            raise RouteTemplateError(f"optional parameter {segment.name!r} must be last in "
                                     f"{template!r}")
    return tuple(segments)


def decode_path(raw_path: str) -> list[str]:
    """Segments of a raw (still percent-encoded) URL path, decoded as Kestrel does:
    everything but ``%2F``. A trailing slash is dropped."""
    path = raw_path.lstrip("/")
    if path.endswith("/"):
        path = path[:-1]
    if path == "":
        return []
    return [unquote(part.replace("%2F", "%252F").replace("%2f", "%252f"), errors="strict")
            for part in path.split("/")]


@dataclass(frozen=True)
class Route:
    """One HTTP function's route: its full template (prefix included) and methods."""

    template: str
    methods: frozenset[str] | None  # None: every method
    target: str = ""
    segments: tuple[Segment, ...] = field(default=(), compare=False)

    @classmethod
    def build(cls, route: str, prefix: str, methods: Iterable[str] | None,
              target: str = "") -> Route:
        full = "/".join(p.strip("/") for p in (prefix, route) if p.strip("/"))
        wanted = frozenset(m.upper() for m in methods) if methods else None
        return cls(full, wanted, target, parse_template(full))

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.precedence for s in self.segments)

    def match(self, path: Sequence[str], method: str) -> dict[str, str] | None:
        """The route values when ``path`` (decoded segments) and ``method`` match."""
        if self.methods is not None and method.upper() not in self.methods:
            return None
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = "/".join(path[index:])
                if rest == "" and segment.default is not None:
                    rest = segment.default
                if rest != "" and not segment.accepts(rest):
                    return None
                if rest != "":
                    values[segment.name] = rest
                return values
            if index >= len(path):
                if segment.default is not None:
                    values[segment.name] = segment.default
                    continue
                if segment.optional:
                    continue
                return None
            part = path[index]
            if segment.literal is not None:
                if part.casefold() != segment.literal.casefold():
                    return None
                continue
            if part == "" or not segment.accepts(part):
                return None
            values[segment.name] = part
        return values if len(path) <= len(self.segments) else None


@dataclass
class RouteTable:
    """Routes in the order the host tries them."""

    routes: list[Route]

    def __post_init__(self) -> None:
        self.routes = sorted(self.routes, key=lambda r: (r.precedence, r.template.lower()))

    def find(self, raw_path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """The first route matching the raw URL path and method, with its values."""
        try:
            path = decode_path(raw_path)
        except UnicodeDecodeError:
            return None
        for route in self.routes:
            values = route.match(path, method)
            if values is not None:
                return route, values
        return None
