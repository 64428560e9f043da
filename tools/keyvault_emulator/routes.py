"""Request classification for the vault port: method + raw path -> operation and parameters.

Routing is done by hand rather than with aiohttp's router because Key Vault's paths have
quirks the SDK relies on (``/secrets/{name}/`` with an empty version means "latest") and
because every request must be classified into an operation *before* it is answered, so
that counters and injected faults can be keyed by operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from .model import VaultError


@dataclass(frozen=True)
class Route:
    """A classified vault request: the operation and the path parameters."""

    operation: str
    name: str | None = None
    version: str | None = None


def _error(status: int, code: str, message: str) -> VaultError:
    return VaultError(status, code, message)


def resolve(method: str, raw_path: str) -> Route:
    """Map method + raw (still percent-encoded) path to a :class:`Route`.

    Raises :class:`VaultError` 404/405/501 for requests that are no secrets operation.
    """
    # Split before unquoting so an encoded "/" inside a name stays inside that name
    # (and is then rejected as an invalid name, like Key Vault does).
    parts = [unquote(p) for p in raw_path.split("/")[1:]]
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # "/secrets/{name}/" is how the SDK asks for the latest version
    collection = parts[0].lower() if parts else ""
    rest = parts[1:]
    route: Route | None = None
    if collection == "secrets":
        route = _secrets_route(method, rest)
    elif collection == "deletedsecrets":
        route = _deleted_route(method, rest)
    else:
        raise _error(404, "NotFound", f"The requested resource {raw_path} was not found.")
    if route is None:
        message = f"The requested resource does not support http method '{method}'."
        raise _error(405, "MethodNotAllowed", message)
    return route


def _secrets_route(method: str, rest: Sequence[str]) -> Route | None:
    if not rest:
        return Route("list_secrets") if method == "GET" else None
    name = rest[0]
    if len(rest) == 1 or (len(rest) == 2 and rest[1] == ""):
        if method == "POST" and name.lower() == "restore":
            return Route("restore_secret")
        return {
            "GET": Route("get_secret", name),
            "PUT": Route("set_secret", name),
            "PATCH": Route("update_secret", name),
            "DELETE": Route("delete_secret", name),
        }.get(method)
    if len(rest) == 2:
        if rest[1].lower() == "versions" and method == "GET":
            return Route("list_versions", name)
        if rest[1].lower() == "backup" and method == "POST":
            return Route("backup_secret", name)
        if method == "GET":
            return Route("get_secret", name, rest[1])
        if method == "PATCH":
            return Route("update_secret", name, rest[1])
        return None
    raise _error(404, "NotFound", "The requested resource was not found.")


def _deleted_route(method: str, rest: Sequence[str]) -> Route | None:
    if not rest:
        return Route("list_deleted_secrets") if method == "GET" else None
    name = rest[0]
    if len(rest) == 1:
        return {
            "GET": Route("get_deleted_secret", name),
            "DELETE": Route("purge_deleted_secret", name),
        }.get(method)
    if len(rest) == 2 and rest[1].lower() == "recover":
        return Route("recover_deleted_secret", name) if method == "POST" else None
    raise _error(404, "NotFound", "The requested resource was not found.")
