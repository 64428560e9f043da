"""Start and stop the local backing services: Azurite (tables) and the Key Vault emulator.

One implementation serves the test fixtures, ``make dev``, ``make demo`` and the
benchmarks. Each service runs as a child process on a loopback port, is awaited
until it accepts connections (a clear error within seconds otherwise, never a
hang) and is stopped by PID.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.keyvault_emulator import READY_PREFIX
from tools.keyvault_emulator.control import EmulatorControl

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"

# Azurite's well-known development account (public, documented by Microsoft).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class ServiceStartError(RuntimeError):
    """A local service did not come up; the message says why and what to check."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"{name} exited with code {proc.returncode} during start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceStartError(f"{name} did not accept connections on port {port} within {timeout}s")


def busy_ports(*ports: int) -> list[int]:
    """Those of ``ports`` that something on 127.0.0.1 already listens on (or holds); 0
    (any free port) is never busy."""
    busy = []
    for port in ports:
        if port == 0:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the services do: a port left in TIME_WAIT by a stopped run is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def describe_exit(code: int | None) -> str:
    """``exit code 3``, or ``killed by SIGKILL`` for a process a signal ended."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def exited_service(*services: Azurite | KeyVaultEmulator) -> str | None:
    """When one of ``services`` (started, not stopped) has exited: a message naming it,
    its exit code and the tail of its log; ``None`` while they all run."""
    for service in services:
        proc = service.proc
        if proc is None or proc.poll() is None:
            continue
        tail = service.log_tail()
        shown = "\n".join(f"  | {line}" for line in tail) if tail else "  (its log is empty)"
        return (f"{service.name} exited unexpectedly ({describe_exit(proc.returncode)}); "
                f"last lines of its log:\n{shown}")
    return None


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].rstrip("/"))


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0,
          sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def start_ready_process(
    args: list[str], env: dict[str, str], log: Path, ready: str, what: str = "a process",
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``args`` (from the repository root, stderr to ``log``) and wait for its first
    stdout line, which must start with ``ready``; returns the process and the rest of that
    line (e.g. its URL). Its stdin is a pipe the caller may write to. The soak's app
    instances and the fleet benchmark's resolver processes start this way."""
    out = log.open("wb")
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=out)
    out.close()
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith(ready):
        proc.kill()
        proc.wait()
        raise ServiceStartError(f"{what} did not start; see {log}")
    return proc, line[len(ready):].strip()


@dataclass
class Azurite:
    """Azurite's table service on a loopback port.

    ``location=None`` keeps data in memory (tests); a folder persists it (``make dev``).
    ``stop()`` and ``start()`` may be called repeatedly (outage tests); the port is kept.
    """

    name = "Azurite"
    port: int = 0
    location: Path | None = None
    start_timeout: float = 15.0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: Path | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint={self.endpoint};"
        )

    def start(self) -> Azurite:
        if not AZURITE_BIN.exists():
            raise ServiceStartError(
                f"Azurite is not installed ({AZURITE_BIN} missing): run `make install` (npm ci)"
            )
        if shutil.which("node") is None:
            raise ServiceStartError(
                "Node.js is missing (Azurite runs on it): install Node.js 22 LTS or newer "
                "from https://nodejs.org/en/download and run again"
            )
        if self.port == 0:
            self.port = free_port()
        args = [
            str(AZURITE_BIN), "--tableHost", "127.0.0.1", "--tablePort", str(self.port),
            "--skipApiVersionCheck", "--disableTelemetry", "--silent",
        ]
        if self.location is None:
            args.append("--inMemoryPersistence")
            workdir = Path(tempfile.gettempdir())
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
            workdir = self.location
        if self._log is None:
            fd, name = tempfile.mkstemp(prefix="azurite-", suffix=".log")
            os.close(fd)
            self._log = Path(name)
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
            )
        try:
            _wait_for_port(self.port, self.proc, self.start_timeout, "Azurite")
        except ServiceStartError as exc:
            self.stop()
            tail = self._log.read_text(errors="replace")[-2000:]
            raise ServiceStartError(f"{exc}\n--- azurite log ---\n{tail}") from None
        return self

    def stop(self) -> None:
        # SIGINT is Azurite's graceful stop: it saves its database (SIGTERM would lose the
        # writes of the last autosave interval, 5 s, of a persistent location).
        if self.running:
            self.resume()  # a paused process would not act on the SIGINT
        _stop(self.proc, sig=signal.SIGINT)
        self.proc = None

    def pause(self) -> None:
        """Freeze the service (SIGSTOP): connections are still accepted by the kernel but
        nothing answers, like a hung storage endpoint; ``resume()`` lets it go on."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        if not self.running:
            raise ServiceStartError("Azurite is not running")
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)  # its own session: the whole process group

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines of its log (stdout and stderr, all its starts)."""
        if self._log is None or not self._log.exists():
            return []
        text = self._log.read_bytes()[-16_000:].decode(errors="replace")
        return text.splitlines()[-lines:]


@dataclass
class KeyVaultEmulator:
    """The project's Key Vault emulator (tools.keyvault_emulator) as a child process.

    ``vaults`` names the vaults it serves, each on its own HTTPS port with its own secrets,
    counters and faults; the first is the default vault (``url``, ``control_url``'s
    unprefixed endpoints). ``port`` is the default vault's port, ``vault_ports`` fixes
    others' (0 or absent: any free port). ``urls`` maps every vault name to its URL.
    """

    name = "Key Vault emulator"
    state: Path
    port: int = 0
    control_port: int = 0
    in_memory: bool = True
    start_timeout: float = 20.0
    vaults: tuple[str, ...] = ("default",)
    vault_ports: dict[str, int] = field(default_factory=dict)
    #: where Key Vault's Event Grid events go (None: nowhere until the control API says)
    event_endpoint: str | None = None
    #: how often the emulator looks for secrets near or past expiry (None: its default)
    event_check_seconds: float | None = None
    url: str = ""
    control_url: str = ""
    ca_file: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    proxy_url: str = ""
    hostname_urls: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: the last lines it printed (stdout and stderr), kept for the whole run
    _output: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=200), repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> KeyVaultEmulator:
        args = [
            sys.executable, "-m", "tools.keyvault_emulator",
            "--port", str(self.port), "--control-port", str(self.control_port),
            "--state", str(self.state),
        ]
        for i, name in enumerate(self.vaults):
            # A restart reuses the ports the first start got, so URLs handed out stay valid.
            port = self.port if i == 0 else self.vault_ports.get(name, 0)
            args += ["--vault", f"{name}={port}"]
        if self.in_memory:
            args.append("--in-memory")
        if self.event_endpoint:
            args += ["--event-endpoint", self.event_endpoint]
        if self.event_check_seconds is not None:
            args += ["--event-check-seconds", str(self.event_check_seconds)]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            start_new_session=True,
        )
        ready = self._read_ready_line()
        self.url, self.control_url = ready["url"], ready["control_url"]
        self.ca_file = ready["ca_file"]
        self.urls = dict(ready["urls"])
        self.proxy_url, self.hostname_urls = ready["proxy_url"], dict(ready["hostname_urls"])
        self.port = _port_of(self.url)
        self.vault_ports = {name: _port_of(url) for name, url in self.urls.items()}
        self.control_port = _port_of(self.control_url)
        return self

    def dropin_env(self, vault: str | None = None) -> dict[str, str]:
        """Environment for *unmodified* SDK code (``DefaultAzureCredential``, default client
        options, e.g. Microsoft's samples) to use ``vault`` (default: the default vault):
        its host name through the emulator's proxy, the emulator's CA, and the emulator's
        managed-identity endpoint. ``SSL_CERT_FILE`` replaces the system CA bundle, so give
        this environment to a process that talks only to the emulator."""
        return {
            "VAULT_URL": self.hostname_urls[vault or self.vaults[0]],
            "HTTPS_PROXY": self.proxy_url,
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "SSL_CERT_FILE": self.ca_file,
            "IDENTITY_ENDPOINT": f"{self.control_url}/identity/token",
            "IDENTITY_HEADER": "emulator",
        }

    def control(self, vault: str | None = None) -> EmulatorControl:
        """The control client for ``vault`` (default: the default vault)."""
        control = EmulatorControl(self.control_url)
        return control if vault is None else control.vault(vault)

    def _read_ready_line(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        lines: list[str] = []
        result: dict[str, Any] = {}
        done = threading.Event()

        def reader() -> None:
            for raw in iter(stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                self._output.append(line)
                if not done.is_set():
                    lines.append(line)
                    if line.startswith(READY_PREFIX):
                        result.update(json.loads(line[len(READY_PREFIX):]))
                        done.set()
            done.set()  # EOF: the process ended

        # The reader keeps draining stdout for the process's lifetime so it never blocks.
        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        if not done.wait(self.start_timeout) or not result:
            self.stop()
            output = "\n".join(lines[-30:])
            raise ServiceStartError(
                f"Key Vault emulator did not report ready within {self.start_timeout}s\n{output}"
            )
        return result

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines it printed (its log goes to stderr, read with stdout)."""
        if self._reader is not None and self.proc is not None and self.proc.poll() is not None:
            self._reader.join(1.0)  # it exited: let the reader take in its last words
        return list(self._output)[-lines:]

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


@contextlib.contextmanager
def local_stack(*, persist_tables: bool = False) -> Iterator[tuple[Azurite, KeyVaultEmulator]]:
    """Azurite and the emulator with throw-away state (tables on disk with
    ``persist_tables``, so an outage test can stop and restart Azurite), stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="orgconfig-") as state:
        root = Path(state)
        azurite = Azurite(location=root / "azurite" if persist_tables else None).start()
        try:
            vault = KeyVaultEmulator(state=root / "kv").start()
            try:
                yield azurite, vault
            finally:
                vault.stop()
        finally:
            azurite.stop()
