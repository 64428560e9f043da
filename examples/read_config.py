"""The Python API end to end: one org's config, a typed value, a secret, a default, an
explanation, a pydantic model and a typed error. The README's "Python API" section shows
the part between the markers; tests/integration/test_examples.py runs the whole file.

With ``make dev`` running and ``examples/seed.json`` imported (README, "CLI")::

    .venv/bin/python -m examples.read_config --settings local.settings.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

# [START read_config]
from pydantic import BaseModel, SecretStr

from shared import errors
from shared.resolver import ConfigResolver


class SmtpSettings(BaseModel):
    """Each field reads the config key of its name; a secret must go to a SecretStr."""

    smtp_host: str
    smtp_port: int
    smtp_use_tls: bool
    smtp_password: SecretStr


async def read_config() -> None:
    async with ConfigResolver() as resolver:           # settings from env; closes its clients
        ctx = resolver.context("ACME")                 # canonical "acme"; "global" is refused
        host = await ctx.get_config("smtp_host")       # acme's own entry
        port = await ctx.get_config("smtp_port")       # GLOBAL's entry, an int
        pwd = await ctx.get_config("smtp_password")    # the secret, as str: never print it
        absent = await ctx.get_config("absent", default=None)
        many = await ctx.get_configs("smtp_host", "smtp_port")
        why = await ctx.explain("smtp_password")       # scope, source, names tried; no value
        smtp = await ctx.load(SmtpSettings)            # validated model, secret as SecretStr
        try:
            await ctx.get_config("no_such_key")
        except errors.ConfigNotFoundError as exc:      # also a KeyError
            print(f"not set: {exc}")
        print(f"{host}:{port} tls={smtp.smtp_use_tls} absent={absent} many={many}")
        print(f"password ({type(pwd).__name__}) from {why.source}, in the model: "
              f"{smtp.smtp_password}")
# [END read_config]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Read acme's SMTP settings.")
    parser.add_argument("--settings", type=Path,
                        help="put this local.settings.json's Values in the environment first, "
                             "as func start does")
    args = parser.parse_args()
    if args.settings is not None:
        from shared.cli.common import load_settings_file

        os.environ.update(load_settings_file(args.settings))
    asyncio.run(read_config())
