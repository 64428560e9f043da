"""tools.loopback: which Host header values name this machine (the DNS-rebinding guard of
the local host and the Key Vault emulator)."""

from __future__ import annotations

import pytest

from shared.core import loopback as app_copy
from tools.loopback import host_name, is_loopback_host, is_loopback_name


@pytest.mark.parametrize("host", [
    "localhost", "localhost:7071", "LOCALHOST", "LocalHost:80",
    "127.0.0.1", "127.0.0.1:7071", "127.1.2.3:1", "127.255.255.254",
    "[::1]", "[::1]:7071", "[0:0:0:0:0:0:0:1]:8443",
    "localhost:0", "localhost:65535",
])
def test_loopback_names_are_accepted(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", [
    None, "", " ", ":7071",
    "attacker.example", "attacker.example:7071",           # a rebound name
    "localhost.attacker.example", "localhost.attacker.example:7071",
    "127.0.0.1.nip.io", "127.0.0.1.nip.io:7071",
    "localhost.", "localhost.:7071", "127.0.0.1.",          # trailing dot: refused
    "sub.localhost", "xlocalhost", "localhostx",
    "10.0.0.8", "0.0.0.0", "128.0.0.1", "192.168.1.1:7071",
    "127.1", "0x7f.0.0.1", "2130706433", "0127.0.0.1",     # short, hex, integer, octal forms
    "::1", "[::1", "::1]", "[::]", "[::2]", "[::ffff:127.0.0.1]", "[fe80::1%25lo]",
    "localhost:", "localhost:abc", "localhost:65536", "localhost:123456", "localhost:7071:1",
    "user@localhost", "localhost ", " localhost", "local host", "localhost\n",
    "localhost,evil.example", "localhost/evil", "localhost?x",
])
def test_everything_else_is_refused(host: str | None) -> None:
    assert not is_loopback_host(host)


def test_host_name_drops_the_port_and_lowers_the_case() -> None:
    assert host_name("LocalHost:7071") == "localhost"
    assert host_name("[::1]:80") == "[::1]"
    assert host_name("Default.Vault.Localhost") == "default.vault.localhost"
    assert host_name("a b") is None
    assert host_name(None) is None


def test_is_loopback_name_takes_a_bare_lower_case_name() -> None:
    assert is_loopback_name("localhost") and is_loopback_name("127.0.0.1")
    assert is_loopback_name("[::1]") and not is_loopback_name("::1")


def test_the_apps_copy_answers_as_the_emulators_does() -> None:
    # the emulator imports nothing from shared, so it keeps a copy: both must agree
    assert app_copy.__file__ != host_name.__code__.co_filename
    hosts = [None, "", "localhost", "LOCALHOST:1", "127.0.0.1:7071", "[::1]:8443", "[::2]",
             "localhost.", "attacker.example", "127.0.0.1.nip.io", "127.1", "0x7f.0.0.1",
             "localhost.attacker.example", "[::ffff:127.0.0.1]", "localhost:65536"]
    assert [app_copy.is_loopback_host(h) for h in hosts] == [is_loopback_host(h) for h in hosts]
    assert app_copy.is_loopback_host("127.0.0.1:7071") and not app_copy.is_loopback_host("x.y")
