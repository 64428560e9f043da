"""Example workflows: the shape of real MSP automations, with no network calls.

Each declares the config it needs as a pydantic model (``config=``: keys, types,
constraints; secrets as ``SecretStr``), which the executor builds from the org's config
before the run (a 424 ``config_not_ready`` listing the problems otherwise), and returns
what it would send, never a credential. Each declares its parameters as a pydantic model
with bounds (any org member may call it), so oversized input is a 400 before any work.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    JsonValue,
    SecretStr,
    StringConstraints,
)

from shared.context import OrganizationContext
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


class GraphUserSyncConfig(BaseModel):
    """The config graph-user-sync declares (checked before it runs, and by readiness)."""

    graph_tenant_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9.-]+$",
                                 description="the customer's Entra tenant id (or domain)")
    graph_client_id: str = Field(min_length=1, max_length=100)
    graph_client_secret: SecretStr
    #: Graph's $top allows 1 to 999
    graph_page_size: int = Field(ge=1, le=999)


@workflow("graph-user-sync", params=GraphUserSyncParams, config=GraphUserSyncConfig)
async def graph_user_sync(
    context: OrganizationContext, params: GraphUserSyncParams, config: GraphUserSyncConfig
) -> dict[str, Any]:
    """Sync users from a customer's Microsoft 365 tenant (Microsoft Graph, app-only auth).

    ``params.users`` stands in for Graph's response.
    """
    token_request = {
        "url": f"https://login.microsoftonline.com/{config.graph_tenant_id}/oauth2/v2.0/token",
        "client_id": config.graph_client_id,
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    users = params.users
    active = [u for u in users if u.get("accountEnabled", True)]
    return {
        "token_request": token_request,
        "client_secret": "present" if config.graph_client_secret.get_secret_value()
        else "missing",
        "pages": -(-len(users) // config.graph_page_size),
        "users_seen": len(users),
        "users_synced": len(active),
    }


class PsaTicketParams(Params):
    alert: JsonObject = Field(default_factory=dict,
                              description="the monitoring alert: field -> value")


class PsaTicketConfig(BaseModel):
    """The config psa-ticket declares."""

    psa_api_url: HttpUrl
    psa_api_key: SecretStr
    #: alert field -> ticket field
    psa_field_mapping: dict[str, str] = Field(max_length=200)
    psa_default_priority: int = Field(default=3, ge=1, le=5)


@workflow("psa-ticket", params=PsaTicketParams, config=PsaTicketConfig)
async def psa_ticket(context: OrganizationContext, params: PsaTicketParams,
                     config: PsaTicketConfig) -> dict[str, Any]:
    """Turn a monitoring alert into a PSA ticket (ConnectWise/Autotask style REST API)."""
    alert = params.alert
    mapping = config.psa_field_mapping
    ticket = {target: alert[source] for source, target in mapping.items() if source in alert}
    ticket.setdefault("priority", config.psa_default_priority)
    return {
        "request": {
            "method": "POST",
            "url": f"{str(config.psa_api_url).rstrip('/')}/tickets",
            "headers": {"Authorization": "Bearer ***" if config.psa_api_key.get_secret_value()
                        else "(none)"},
            "json": ticket,
        },
    }


#: A plain address (RFC 5321 dot-atom local part @ domain of LDH labels), at most 254
#: characters. The e-mail header parser is quadratic on some input (long runs of quotes,
#: dots, commas) and recursive on nested comments: only plain addresses reach it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_ADDRESS = rf"^{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})+$"
EmailAddress = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_ADDRESS)]


class SmtpSettings(BaseModel):
    """The config smtp-digest declares."""

    host: str = Field(alias="smtp_host", min_length=1, max_length=253)
    port: int = Field(default=587, alias="smtp_port", ge=1, le=65535)
    use_tls: bool = Field(default=True, alias="smtp_use_tls")
    username: str = Field(alias="smtp_username", min_length=1, max_length=254)
    password: SecretStr = Field(alias="smtp_password")
    sender: EmailAddress = Field(alias="report_sender")


class SmtpDigestParams(Params):
    recipients: list[EmailAddress] = Field(default_factory=list, max_length=50)
    events: list[JsonValue] = Field(default_factory=list, max_length=10_000,
                                    description="the events to summarize (counted)")


@workflow("smtp-digest", params=SmtpDigestParams, config=SmtpSettings)
async def smtp_digest(context: OrganizationContext, params: SmtpDigestParams,
                      smtp: SmtpSettings) -> dict[str, Any]:
    """Build the daily digest e-mail for an org."""
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
