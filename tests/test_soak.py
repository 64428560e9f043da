"""The soak's short slice (``make soak`` runs the long one): two instances over Azurite and
the emulator, faults on both stores, and every promise checked (see tools/soak)."""

from __future__ import annotations

import pytest

from tools.soak.__main__ import main

pytestmark = pytest.mark.integration


def test_the_quick_soak_keeps_every_promise(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--quick"])
    out = capsys.readouterr().out
    assert "| writes on A, reads on B |" in out and "| log leak scan |" in out
    assert code == 0, out
