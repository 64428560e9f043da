"""Readiness of the demo orgs (examples/seed.json with its catalog reconciled, as `make demo`
and `make serve` seed them) and the CLI's ``readiness [ORG]`` with its exit codes."""

from __future__ import annotations

import io

import pytest

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.readiness import org_readiness
from shared.cli.main import run
from shared.resolver import ConfigResolver
from tools.demo import ENV_ONLY, seed
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration

EXAMPLES = ("graph-user-sync", "psa-ticket", "smtp-digest")


@pytest.fixture
async def demo_seeded(resolver: ConfigResolver) -> ConfigResolver:
    await seed(resolver)
    await SecretCatalog(resolver).reconcile()
    resolver.invalidate()
    return resolver


def _summary(found: object) -> dict[str, list[tuple[str, str]]]:
    return {w.name: [(p.key, p.problem) for p in w.problems]  # type: ignore[attr-defined]
            for w in found.workflows if w.name in EXAMPLES}  # type: ignore[attr-defined]


async def test_the_demo_orgs_readiness(
    demo_seeded: ConfigResolver, kv_control: EmulatorControl, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ENV_ONLY:  # `make demo` (tools.demo.main) sets it in this process
        monkeypatch.delenv(name, raising=False)
    kv_control.reset_counters()
    found = {org: _summary(await org_readiness(demo_seeded, org))
             for org in ("acme", "contoso", "fabrikam")}
    with capsys.disabled():
        print(f"\ndemo readiness (no env secret): {found}")
    assert found["acme"] == {name: [] for name in EXAMPLES}
    assert found["contoso"] == {name: [] for name in EXAMPLES}
    # fabrikam's Graph secret is in the environment only (the demo sets it; not here)
    assert found["fabrikam"] == {"graph-user-sync": [("graph_client_secret", "secret_missing")],
                                 "psa-ticket": [], "smtp-digest": []}
    for name, value in ENV_ONLY.items():
        monkeypatch.setitem(demo_seeded.secret_store.environ, name, value)  # type: ignore[arg-type]
    assert _summary(await org_readiness(demo_seeded, "fabrikam")) == \
        {name: [] for name in EXAMPLES}
    assert kv_control.count("get_secret") == 0


async def cli(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), out=out, env=env, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("demo_seeded")
async def test_cli_readiness_exit_codes(env: dict[str, str], kv_control: EmulatorControl,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_ONLY:  # `make demo` (tools.demo.main) sets it in this process
        monkeypatch.delenv(name, raising=False)
    kv_control.reset_counters()
    code, out, err = await cli(env, "readiness", "acme")
    assert code == 0, err
    assert "acme: 3 of 3 workflows ready" in out and "NOT READY" not in out
    code, out, _ = await cli(env, "readiness", "FABRIKAM")
    assert code == 1
    assert "graph-user-sync  NOT READY" in out
    assert "graph_client_secret: secret_missing:" in out
    code, out, _ = await cli(env, "readiness")  # every org with config
    assert code == 1
    assert "2 of 3 orgs ready" in out and "contoso: 3 of 3 workflows ready" in out
    code, out, _ = await cli({**env, "FABRIKAM__GRAPH_CLIENT_SECRET": "Zx-env"}, "readiness")
    assert code == 0 and "3 of 3 orgs ready" in out and "Zx-env" not in out
    assert kv_control.count("get_secret") == 0
    assert "demo-" not in out  # no value of the seed


async def test_cli_readiness_errors(env: dict[str, str]) -> None:
    code, _, err = await cli(env, "readiness", "acme", "--workflows", "no_such_module_xyz")
    assert code == 2 and "no_such_module_xyz" in err
    code, _, err = await cli(env, "readiness", "GLOBAL")
    assert code == 2 and err.startswith("error:")
