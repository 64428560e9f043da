"""The request parameters of the API (path, query, header), each with its JSON Schema.

The schemas restate the naming rules of :mod:`shared.core.naming` in a form clients and
fuzzers can use (patterns, lengths); tests check that both agree. Values arrive as
strings; the handlers still validate them with :mod:`shared.core.naming`, the schemas only
document what will be accepted.
"""

from __future__ import annotations

from typing import Any

from shared.api.errors import ApiError
from shared.api.routing import Call, Param
from shared.core.naming import CONFIG_KEY_MAX, ORG_ID_MAX, SECRET_NAME_MAX

#: An org id as callers may spell it (any case; canonicalized to lower case).
ORG_ID_PATTERN = r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"
#: ``global`` in any case: the platform-wide scope, never an org.
GLOBAL_PATTERN = r"^[Gg][Ll][Oo][Bb][Aa][Ll]$"
CONFIG_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
SECRET_NAME_PATTERN = r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"  # noqa: S105 (a name rule)
WORKFLOW_NAME_PATTERN = r"^[A-Za-z0-9_\-]+$"
#: RFC 9110 entity-tag (optionally weak) or ``*``; at most 256 characters.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[!#-~]*")$'

SCOPE_SCHEMA: dict[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": ORG_ID_MAX, "pattern": ORG_ID_PATTERN,
    "description": "an org id (letters, digits and single '-'; any case, stored lower-case) "
                   "or GLOBAL for platform-wide entries",
    "examples": ["acme", "GLOBAL"],
}
ORG_SCHEMA: dict[str, Any] = {
    **SCOPE_SCHEMA, "allOf": [{"not": {"pattern": GLOBAL_PATTERN}}],
    "description": "an org id (letters, digits and single '-'; any case); not GLOBAL",
    "examples": ["acme"],
}
CONFIG_KEY_SCHEMA: dict[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": CONFIG_KEY_MAX,
    "pattern": CONFIG_KEY_PATTERN, "examples": ["smtp_host"],
}
SECRET_NAME_SCHEMA: dict[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": SECRET_NAME_MAX,
    "pattern": SECRET_NAME_PATTERN, "examples": ["smtp-password"],
    "description": "bare name: ASCII letters, digits and single '-' (no scope prefix)",
}

ORG_OR_GLOBAL = Param("org", "org id, or GLOBAL for platform-wide entries", where="path",
                      required=True, schema=SCOPE_SCHEMA)
ORG = Param("org", "org id the workflow runs for", where="path", required=True,
            schema=ORG_SCHEMA)
CONFIG_KEY = Param("key", "config key", where="path", required=True, schema=CONFIG_KEY_SCHEMA)
SECRET_SCOPE = Param("scope", "org id, or GLOBAL", where="path", required=True,
                     schema=SCOPE_SCHEMA)
SECRET_NAME = Param("name", "secret name", where="path", required=True,
                    schema=SECRET_NAME_SCHEMA)
WORKFLOW_NAME = Param("name", "a registered workflow (unknown names: 404)", where="path",
                      required=True, schema={"type": "string", "minLength": 1, "maxLength": 64,
                                             "pattern": WORKFLOW_NAME_PATTERN})
IF_MATCH = Param(
    "If-Match", "the ETag of the entry as last read; the write fails with 412 if it changed "
    "since (`*`: the entry must exist)", where="header",
    schema={"type": "string", "maxLength": 256, "pattern": IF_MATCH_PATTERN},
)
SCOPE_QUERY = Param("scope", "org id (its secrets and GLOBAL's) or GLOBAL", required=True,
                    schema=SCOPE_SCHEMA)
FORCE = Param("force", "delete even while config entries reference it",
              schema={"type": "boolean", "default": False})
HISTORY_LIMIT = Param("limit", "items per page (1 to 100; default 50)",
                      schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 50})
#: RFC 3339 date-time with a zone (``Z`` or an offset)
RFC3339_PATTERN = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                   r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
# Empty query values never reach the app (the Functions host drops them): empty means absent.
HISTORY_AFTER = Param("after", "the `next` of the previous page (opaque; empty: the first)",
                      schema={"type": "string", "maxLength": 300, "pattern": "^[A-Za-z0-9_-]*$"})
HISTORY_SINCE = Param("since", "only changes at or after this time (RFC 3339 with a zone; "
                      "empty: all)",
                      schema={"type": "string", "maxLength": 40,
                              "pattern": f"^({RFC3339_PATTERN})?$"})


def page_limit(call: Call[Any], maximum: int, default: int = 50) -> int:
    """The ``limit`` query parameter of a paged route: a whole number from 1 to ``maximum``,
    ``default`` when absent. Unlike ``after`` and ``since``, an empty ``limit=`` is not
    "absent" (the schema says integer): 400, as for any other value that is not one."""
    raw = call.query.get("limit", "" if call.sent_empty("limit") else str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_limit",
                       f"limit must be a whole number from 1 to {maximum}")
    return int(raw)
