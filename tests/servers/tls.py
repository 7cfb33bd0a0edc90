"""A throw-away certificate authority and a server certificate for 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerCertificate:
    """Files a TLS server and its clients need."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="session")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    """A certificate for 127.0.0.1 (an IP SAN, so host name checks pass) and its CA."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert(HOST)
    files = ServerCertificate(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_file))
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(files.cert_file), append=True)
    issued.private_key_pem.write_to_path(str(files.key_file))
    return files


@pytest.fixture(scope="session")
def untrusted_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificate of a CA that signed nothing the test servers present."""
    path = tmp_path_factory.mktemp("tls-other") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path
