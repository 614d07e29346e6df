"""The throwaway CA: a server certificate the CA signed, naming every host asked for, kept while
it is valid and made again when it is not enough."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from infra.stack.tls import RENEW_BEFORE, VALIDITY, ensure_tls, kafka_ssl_properties

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _names(path: Path) -> set[str]:
    server = x509.load_pem_x509_certificates(path.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ({str(a) for a in names.get_values_for_type(x509.IPAddress)}
            | set(names.get_values_for_type(x509.DNSName)))


def test_the_server_certificate_names_every_host_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path / "tls", ["127.0.1.1", "127.0.1.2", "node-3.local"], now=NOW)

    assert _names(files.server_cert) == {"localhost", "127.0.0.1", "127.0.1.1", "127.0.1.2",
                                         "node-3.local"}
    server, ca_in_chain = x509.load_pem_x509_certificates(files.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    server.verify_directly_issued_by(ca)  # raises unless the CA signed it
    assert ca_in_chain == ca
    assert server.not_valid_after_utc == NOW + VALIDITY
    for key in (files.server_key, files.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted


def test_valid_files_are_reused(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, ["127.0.1.1"], now=NOW)
    before = {path: path.read_bytes() for path in first.all()}

    again = ensure_tls(tmp_path, ["127.0.1.1"], now=NOW + timedelta(days=30))

    assert {path: path.read_bytes() for path in again.all()} == before


def test_a_host_not_named_yet_makes_a_new_certificate(tmp_path: Path) -> None:
    ensure_tls(tmp_path, ["127.0.1.1"], now=NOW)
    files = ensure_tls(tmp_path, ["127.0.1.1", "127.0.1.3"], now=NOW)
    assert ipaddress.ip_address("127.0.1.3") in {
        ipaddress.ip_address(n) for n in _names(files.server_cert) if n[0].isdigit()}


def test_certificates_near_their_end_are_made_again(tmp_path: Path) -> None:
    old = ensure_tls(tmp_path, now=NOW).ca_cert.read_bytes()
    late = NOW + VALIDITY - RENEW_BEFORE + timedelta(hours=1)
    files = ensure_tls(tmp_path, now=late)
    assert files.ca_cert.read_bytes() != old
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    assert ca.not_valid_after_utc == late + VALIDITY


def test_a_damaged_file_is_replaced(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, now=NOW)
    files.server_cert.write_text("not a certificate")
    ensure_tls(tmp_path, now=NOW)
    assert _names(files.server_cert) == {"localhost", "127.0.0.1"}


def test_kafka_reads_the_pem_files_from_one_line_values(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, now=NOW)
    lines = kafka_ssl_properties(files, "CLIENT").splitlines()
    values = dict(line.split("=", 1) for line in lines)
    # A properties reader turns each `\n` back into a line break.
    chain = values["listener.name.client.ssl.keystore.certificate.chain"].replace("\\n", "\n")
    assert chain == files.server_cert.read_text()
    assert values["listener.name.client.ssl.keystore.key"].replace("\\n", "\n") == \
        files.server_key.read_text()
    assert values["listener.name.client.ssl.truststore.type"] == "PEM"
