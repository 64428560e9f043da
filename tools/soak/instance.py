"""One app instance for the soak: the function app plus a probe workflow, on the local host.

``soak-probe`` answers a digest of what the org's context resolves for some keys (a
SHA-256 prefix, never a value), so the soak can tell a fresh value from a stale one on
this instance without any value leaving it. Logs go to stderr at INFO (audit included),
where the soak scans them for secret values.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from pydantic import BaseModel, Field

from shared.context import OrganizationContext
from shared.resolver import reset_resolver
from tools.localhost.host import LocalFunctionsHost
from tools.soak.common import READY, digest
from workflows.registry import workflow


class ProbeParams(BaseModel):
    keys: list[str] = Field(default_factory=list, max_length=50)


@workflow("soak-probe", params=ProbeParams)
async def soak_probe(context: OrganizationContext, params: ProbeParams) -> dict[str, Any]:
    """Digests of what ``keys`` resolve to for this org on this instance."""
    return {key: digest(await context.get_config(key)) for key in params.keys}


async def _main(port: int) -> int:
    from function_app import app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = LocalFunctionsHost(app, host="127.0.0.1", port=port)
    async with host:
        print(READY + host.base_url, flush=True)
        await stop.wait()
    await reset_resolver()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak.instance")
    parser.add_argument("--port", type=int, default=0)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    return asyncio.run(_main(parser.parse_args().port))


if __name__ == "__main__":
    sys.exit(main())
