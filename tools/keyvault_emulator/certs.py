"""Self-signed TLS certificate for the emulator's HTTPS port.

The Key Vault SDK refuses bearer tokens over plain HTTP, so the emulator must speak TLS.
One certificate is generated on first start and reused afterwards, so a client that was
given the CA file once keeps working across emulator restarts.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "keyvault-emulator-cert.pem"
KEY_FILE = "keyvault-emulator-key.pem"
#: ``*.vault.localhost``: the vault host names of the drop-in proxy (proxy.py).
_DNS_NAMES = ("localhost", "vault.localhost", "*.vault.localhost")
_IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_VALID_DAYS = 825  # the longest validity TLS clients accept for a leaf certificate
_RENEW_BEFORE = datetime.timedelta(days=7)


def ensure_certificate(state_dir: Path) -> tuple[Path, Path]:
    """Return ``(cert_pem, key_pem)`` in ``state_dir``, generating them if missing or stale.

    The certificate doubles as its own CA: clients pass the certificate file as the CA
    bundle (``connection_verify=<cert>``).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    cert_path = (state_dir / CERT_FILE).resolve()
    key_path = (state_dir / KEY_FILE).resolve()
    with _lock(state_dir / ".cert.lock"):
        if not _usable(cert_path, key_path):
            _generate(cert_path, key_path)
    return cert_path, key_path


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    # Two emulators starting on one folder must not each write half of a key/cert pair.
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent first starts are unlikely
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _usable(cert_path: Path, key_path: Path) -> bool:
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    now = datetime.datetime.now(datetime.UTC)
    names_ok = set(_DNS_NAMES) <= set(san.get_values_for_type(x509.DNSName)) and set(
        _IP_ADDRESSES
    ) <= set(san.get_values_for_type(x509.IPAddress))
    # A key that does not match the certificate (e.g. one file replaced) means regenerate.
    same_key = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return names_ok and same_key and cert.not_valid_after_utc - now > _RENEW_BEFORE


def _generate(cert_path: Path, key_path: Path) -> None:
    # EC P-256: generated in milliseconds, unlike RSA, and accepted by every TLS stack.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Key Vault emulator (localhost)")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in _DNS_NAMES] + [x509.IPAddress(ip) for ip in _IP_ADDRESSES]
            ),
            critical=False,
        )
        # CA:TRUE so OpenSSL accepts the file as a trust anchor (strict X.509 checks in
        # newer Pythons reject a self-signed leaf without it).
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    # Write then rename: two emulators starting on the same folder never read half a file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
