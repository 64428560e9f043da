"""OpenAPI links: how one response feeds the next request, for clients and for stateful
fuzzing (schemathesis follows them).

The sequences they describe:

- create a secret -> reference it from a config entry -> deleting the secret is refused
  (409, the entry still references it) -> delete with ``force=true`` -> recover it;
- put a config entry -> put again with its ``ETag`` in ``If-Match`` -> put once more
  with the now stale ``ETag`` (412) ; read it, delete it with its ``ETag``.

Keyed by operationId, then response status. Response headers documented on successes
are here too.
"""

from __future__ import annotations

from typing import Any

_ETAG = {"ETag": {"description": "the entry's version; send it as If-Match to write only "
                                 "if nobody changed it since", "schema": {"type": "string"}}}
SUCCESS_HEADERS: dict[str, dict[str, Any]] = {"config_get": _ETAG, "config_put": _ETAG}
#: on any write's success when the change could not be recorded for other instances yet
PROPAGATION = {"Orgconfig-Propagation-Delayed-Until": {
    "description": "present only when the change could not be recorded for the other "
                   "instances yet (retried in the background): until when (RFC 3339) they may "
                   "still serve the old value", "schema": {"type": "string"}}}

_ENTRY = {"path.org": "$response.body#/scope", "path.key": "$response.body#/key"}
_SECRET = {"path.scope": "$response.body#/scope", "path.name": "$response.body#/name"}
_SAME_SECRET = {"path.scope": "$request.path.scope", "path.name": "$request.path.name"}


def _link(operation: str, description: str, parameters: dict[str, str],
          body: Any = None) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation, "description": description,
                            "parameters": parameters}
    if body is not None:
        link["requestBody"] = body
    return link


LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "orgs_create": {"201": {
        "CreateSecret": _link(
            "secrets_create", "a secret of the new org", {},
            {"scope": "$response.body#/id", "name": "smtp-password", "value": "s3cret-value"}),
        "PutConfig": _link("config_put", "a config entry of the new org",
                           {"path.org": "$response.body#/id", "path.key": "smtp_host"},
                           {"type": "string", "value": "mail.example"}),
        "SuspendOrg": _link("orgs_update", "suspend the new org",
                            {"path.org": "$response.body#/id"}, {"status": "suspended"}),
    }},
    "secrets_create": {"201": {
        "ReferenceFromConfig": _link(
            "config_put", "a secret_ref config entry naming the new secret, in its scope",
            {"path.org": "$response.body#/scope", "path.key": "ref-{$response.body#/name}"},
            {"type": "secret_ref", "value": "$response.body#/name"},
        ),
        "UpdateSecret": _link("secrets_update", "a new version of the secret", _SECRET),
        "DeleteSecret": _link("secrets_delete", "delete the secret", _SECRET),
        "ListSecrets": _link("secrets_list", "the scope's secrets",
                             {"query.scope": "$response.body#/scope"}),
    }},
    "secrets_update": {"200": {
        "DeleteSecret": _link("secrets_delete", "delete the secret", _SECRET),
    }},
    "config_put": {"200": {
        "GetEntry": _link("config_get", "read the entry back", _ENTRY),
        "PutIfUnchanged": _link(
            "config_put", "replace the entry only if it is still this version",
            {**_ENTRY, "header.If-Match": "$response.header.ETag"},
        ),
        "PutWithStaleETag": _link(
            "config_put", "after a conditional write succeeded, its If-Match is stale: 412",
            {**_ENTRY, "header.If-Match": "$request.header.If-Match"},
        ),
        "DeleteIfUnchanged": _link(
            "config_delete", "delete the entry only if it is still this version",
            {**_ENTRY, "header.If-Match": "$response.header.ETag"},
        ),
        "DeleteReferencedSecret": _link(
            "secrets_delete", "for a secret_ref entry: deleting its secret is refused (409) "
            "while the entry references it",
            {"path.scope": "$response.body#/scope", "path.name": "$response.body#/value"},
        ),
    }},
    "config_get": {"200": {
        "PutIfUnchanged": _link(
            "config_put", "replace the entry only if it is still this version",
            {**_ENTRY, "header.If-Match": "$response.header.ETag"},
        ),
    }},
    "secrets_delete": {
        "409": {"ForceDelete": _link(
            "secrets_delete", "delete it anyway; the referencing entries stop resolving",
            {**_SAME_SECRET, "query.force": "true"},
        )},
        "200": {"Recover": _link("secrets_recover", "recover the soft-deleted secret",
                                 _SECRET)},
    },
}
