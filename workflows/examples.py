"""Example workflows: the shape of real MSP automations, with no network calls.

Each reads its organization's config through the context only and returns what it
would send, never a credential. Each declares its parameters as a pydantic model with
bounds (any org member may call it), so oversized input is a 400 before any work.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, StringConstraints

from shared.context import OrganizationContext
from shared.errors import ConfigValueError
from workflows.registry import workflow


class Params(BaseModel):
    """Base of workflow parameters: unknown fields are an error (a typo is a 400)."""

    model_config = ConfigDict(extra="forbid")


JsonObject = Annotated[dict[str, JsonValue], Field(max_length=200)]


class GraphUserSyncParams(Params):
    users: list[JsonObject] = Field(
        default_factory=list, max_length=10_000,
        description="stands in for Graph's /users response: user objects",
    )


@workflow("graph-user-sync", params=GraphUserSyncParams)
async def graph_user_sync(
    context: OrganizationContext, params: GraphUserSyncParams
) -> dict[str, Any]:
    """Sync users from a customer's Microsoft 365 tenant (Microsoft Graph, app-only auth).

    Reads ``graph_tenant_id``, ``graph_client_id``, ``graph_client_secret`` (a secret)
    and ``graph_page_size``; ``params.users`` stands in for Graph's response.
    """
    cfg = await context.get_configs("graph_tenant_id", "graph_client_id", "graph_page_size")
    secret = await context.get_config("graph_client_secret")
    token_request = {
        "url": f"https://login.microsoftonline.com/{cfg['graph_tenant_id']}/oauth2/v2.0/token",
        "client_id": cfg["graph_client_id"],
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    users = params.users
    page_size = cfg["graph_page_size"]
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        # The org's config, not the request, is wrong: a 424 over HTTP, never a 500.
        raise ConfigValueError(f"config key 'graph_page_size' for org {context.org_id!r} must "
                               "be a positive int (type int)")
    active = [u for u in users if u.get("accountEnabled", True)]
    return {
        "token_request": token_request,
        "client_secret": "present" if secret else "missing",
        "pages": -(-len(users) // page_size),
        "users_seen": len(users),
        "users_synced": len(active),
    }


class PsaTicketParams(Params):
    alert: JsonObject = Field(default_factory=dict,
                              description="the monitoring alert: field -> value")


@workflow("psa-ticket", params=PsaTicketParams)
async def psa_ticket(context: OrganizationContext, params: PsaTicketParams) -> dict[str, Any]:
    """Turn a monitoring alert into a PSA ticket (ConnectWise/Autotask style REST API).

    Reads ``psa_api_url``, ``psa_api_key`` (a secret), ``psa_field_mapping`` (JSON: alert
    field -> ticket field) and ``psa_default_priority``.
    """
    api_url = await context.get_config("psa_api_url")
    api_key = await context.get_config("psa_api_key")
    mapping = await context.get_config("psa_field_mapping")
    priority = await context.get_config("psa_default_priority", default=3)
    if not isinstance(mapping, dict) or not all(isinstance(t, str) for t in mapping.values()):
        raise ConfigValueError(f"config key 'psa_field_mapping' for org {context.org_id!r} must "
                               "be a JSON object of alert field -> ticket field names")
    alert = params.alert
    ticket = {target: alert[source] for source, target in mapping.items() if source in alert}
    ticket.setdefault("priority", priority)
    return {
        "request": {
            "method": "POST",
            "url": f"{str(api_url).rstrip('/')}/tickets",
            "headers": {"Authorization": "Bearer ***" if api_key else "(none)"},
            "json": ticket,
        },
    }


class SmtpSettings(BaseModel):
    host: str = Field(alias="smtp_host")
    port: int = Field(default=587, alias="smtp_port")
    use_tls: bool = Field(default=True, alias="smtp_use_tls")
    username: str = Field(alias="smtp_username")
    password: SecretStr = Field(alias="smtp_password")
    sender: str = Field(alias="report_sender")


#: A plain address (RFC 5321 dot-atom local part @ domain of LDH labels), at most 254
#: characters. The e-mail header parser is quadratic on some input (long runs of quotes,
#: dots, commas) and recursive on nested comments: only plain addresses reach it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_ADDRESS = rf"^{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})+$"
EmailAddress = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_ADDRESS)]


class SmtpDigestParams(Params):
    recipients: list[EmailAddress] = Field(default_factory=list, max_length=50)
    events: list[JsonValue] = Field(default_factory=list, max_length=10_000,
                                    description="the events to summarize (counted)")


@workflow("smtp-digest", params=SmtpDigestParams)
async def smtp_digest(context: OrganizationContext, params: SmtpDigestParams) -> dict[str, Any]:
    """Build the daily digest e-mail for an org; config loaded into a pydantic model."""
    smtp = await context.load(SmtpSettings)
    subject = f"Daily digest for {context.org_id}"
    # Header parsing and serialisation are CPU work (milliseconds for 50 long addresses):
    # off the event loop, so other requests are not held up.
    message, size = await asyncio.to_thread(_build, smtp.sender, params, subject)
    return {
        "server": f"{smtp.host}:{smtp.port}",
        "tls": smtp.use_tls,
        "login": smtp.username,
        "password": "present" if smtp.password.get_secret_value() else "missing",
        "subject": message["Subject"],
        "recipients": len(params.recipients),
        "bytes": size,
    }


def _build(sender: str, params: SmtpDigestParams, subject: str) -> tuple[EmailMessage, int]:
    """The digest message and its size in bytes (runs in a worker thread)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(params.recipients) or sender
    message["Subject"] = subject
    message.set_content(f"{len(params.events)} events in the last 24 hours.")
    return message, len(message.as_bytes())
