"""Example workflows: the shape of real MSP automations, with no network calls.

Each reads its organization's config through the context only and returns what it
would send, never a credential.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from shared.context import OrganizationContext
from workflows.registry import workflow


@workflow("graph-user-sync")
async def graph_user_sync(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Sync users from a customer's Microsoft 365 tenant (Microsoft Graph, app-only auth).

    Reads ``graph_tenant_id``, ``graph_client_id``, ``graph_client_secret`` (a secret)
    and ``graph_page_size``; ``params["users"]`` stands in for Graph's response.
    """
    cfg = await context.get_configs("graph_tenant_id", "graph_client_id", "graph_page_size")
    secret = await context.get_config("graph_client_secret")
    token_request = {
        "url": f"https://login.microsoftonline.com/{cfg['graph_tenant_id']}/oauth2/v2.0/token",
        "client_id": cfg["graph_client_id"],
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    users = [u for u in params.get("users", []) if isinstance(u, dict)]
    page_size = max(1, int(cfg["graph_page_size"]))
    active = [u for u in users if u.get("accountEnabled", True)]
    return {
        "token_request": token_request,
        "client_secret": "present" if secret else "missing",
        "pages": -(-len(users) // page_size),
        "users_seen": len(users),
        "users_synced": len(active),
    }


@workflow("psa-ticket")
async def psa_ticket(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Turn a monitoring alert into a PSA ticket (ConnectWise/Autotask style REST API).

    Reads ``psa_api_url``, ``psa_api_key`` (a secret), ``psa_field_mapping`` (JSON: alert
    field -> ticket field) and ``psa_default_priority``.
    """
    api_url = await context.get_config("psa_api_url")
    api_key = await context.get_config("psa_api_key")
    mapping = await context.get_config("psa_field_mapping")
    priority = await context.get_config("psa_default_priority", default=3)
    if not isinstance(mapping, dict):
        raise TypeError("psa_field_mapping must be a JSON object")
    raw_alert = params.get("alert")
    alert: dict[str, Any] = raw_alert if isinstance(raw_alert, dict) else {}
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


@workflow("smtp-digest")
async def smtp_digest(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Build the daily digest e-mail for an org; config loaded into a pydantic model."""
    smtp = await context.load(SmtpSettings)
    recipients = [r for r in params.get("recipients", []) if isinstance(r, str)]
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients) or smtp.sender
    message["Subject"] = f"Daily digest for {context.org_id}"
    message.set_content(f"{len(params.get('events', []))} events in the last 24 hours.")
    return {
        "server": f"{smtp.host}:{smtp.port}",
        "tls": smtp.use_tls,
        "login": smtp.username,
        "password": "present" if smtp.password.get_secret_value() else "missing",
        "subject": message["Subject"],
        "recipients": len(recipients),
        "bytes": len(message.as_bytes()),
    }
