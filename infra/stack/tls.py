"""A throwaway certificate authority for the local stacks: a CA and one server certificate whose
names cover the given hosts, as PEM files under a folder of the state folder.

Made on the first start and reused while valid and covering the hosts asked for; deleting the
folder (or `make clean`) makes new ones. Clients trust `ca.pem` (STORIES_*_SSL_CA_FILE); the
servers present `server.pem` (the certificate, then the CA's) with `server-key.pem`.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "ensure_tls", "server_names", "kafka_ssl_properties", "redis_tls_arguments"]

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
VALIDITY = timedelta(days=365)
# Made again this long before expiry, so a running stack never meets an expired certificate.
RENEW_BEFORE = timedelta(days=7)
KEY_BITS = 2048  # RSA: read by Java (Kafka, Cassandra), OpenSSL (Redis) and Python alike

Name = x509.DNSName | x509.IPAddress


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of one folder."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        """The server's certificate followed by the CA's: the chain a server presents."""
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        """The server's key, unencrypted PKCS#8 (what Kafka's PEM keystore reads)."""
        return self.folder / "server-key.pem"

    def all(self) -> tuple[Path, ...]:
        return self.ca_cert, self.ca_key, self.server_cert, self.server_key


_MAKING = threading.Lock()


def ensure_tls(folder: Path, hosts: Iterable[str] = (), now: datetime | None = None) -> TlsFiles:
    """The CA and server certificate of `folder`, made (again) unless they exist, are valid
    beyond RENEW_BEFORE and name localhost, 127.0.0.1 and every one of `hosts`."""
    files = TlsFiles(folder)
    moment = now or datetime.now(UTC)
    wanted = server_names([*DEFAULT_HOSTS, *hosts])
    with _MAKING:  # the nodes of a cluster start in threads of one `up`, and share the files
        if not _reusable(files, wanted, moment):
            _generate(files, wanted, moment)
    return files


def server_names(hosts: Iterable[str]) -> list[Name]:
    """Subject alternative names: an IP address entry for an address, a DNS entry otherwise."""
    names: list[Name] = []
    for host in dict.fromkeys(h.strip() for h in hosts if h.strip()):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _reusable(files: TlsFiles, wanted: list[Name], moment: datetime) -> bool:
    if not all(path.is_file() for path in files.all()):
        return False
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        server.verify_directly_issued_by(ca)
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    fresh = all(cert.not_valid_after_utc - RENEW_BEFORE > moment for cert in (ca, server))
    return fresh and all(name in names for name in wanted) and _serves_both_ends(server)


def _serves_both_ends(server: x509.Certificate) -> bool:
    """Made for servers and clients alike (certificates of earlier releases were servers' only)."""
    try:
        usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)


def _generate(files: TlsFiles, names: list[Name], moment: datetime) -> None:
    ca_key, server_key = _new_key(), _new_key()
    ca_name = _name("stories local CA")
    ca = (
        _builder(ca_name, ca_name, ca_key, moment)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        _builder(_name("stories local server"), ca_name, server_key, moment)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        # Client too: the nodes of a Redis Cluster present it to each other on the TLS bus.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    _write(files.ca_key, _private_pem(ca_key), private=True)
    _write(files.server_key, _private_pem(server_key), private=True)
    _write(files.ca_cert, ca.public_bytes(pem))
    _write(files.server_cert, server.public_bytes(pem) + ca.public_bytes(pem))


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey,
             moment: datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(minutes=5))  # clocks of other processes may lag
        .not_valid_after(moment + VALIDITY)
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, key_encipherment=not cert_sign, key_cert_sign=cert_sign,
        crl_sign=cert_sign, content_commitment=False, data_encipherment=False,
        key_agreement=False, encipher_only=False, decipher_only=False,
    )


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, content: bytes, private: bool = False) -> None:
    """Whole files only (a reader never sees half of one); keys readable by their owner only."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.chmod(0o600 if private else 0o644)
    os.replace(partial, path)


def kafka_ssl_properties(files: TlsFiles, listener: str) -> str:
    """server.properties lines that make `listener` serve TLS from the PEM files (the listener's
    protocol, SSL or SASL_SSL, is set in listener.security.protocol.map)."""
    prefix = f"listener.name.{listener.lower()}"
    return "\n".join([
        f"{prefix}.ssl.keystore.type=PEM",
        f"{prefix}.ssl.keystore.certificate.chain={_one_line_pem(files.server_cert)}",
        f"{prefix}.ssl.keystore.key={_one_line_pem(files.server_key)}",
        f"{prefix}.ssl.truststore.type=PEM",
        f"{prefix}.ssl.truststore.certificates={_one_line_pem(files.ca_cert)}",
        f"{prefix}.ssl.client.auth=none",
    ])


def _one_line_pem(path: Path) -> str:
    """PEM content as one properties line: its line breaks written `\\n`, which the properties
    reader turns back into line breaks (Kafka's PEM reader wants one after every END line)."""
    return "".join(f"{line}\\n" for line in path.read_text().strip().splitlines())


def redis_tls_arguments(files: TlsFiles, port: int) -> list[str]:
    """redis-server arguments serving TLS on `port` (add `--port 0` to close the plain one);
    clients are not asked for certificates."""
    return [
        "--tls-port", str(port),
        "--tls-cert-file", str(files.server_cert), "--tls-key-file", str(files.server_key),
        "--tls-ca-cert-file", str(files.ca_cert), "--tls-auth-clients", "no",
    ]  # fmt: skip
