"""Tenant parameter files: the demo tenant loads; broken files fail on one line naming the key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from leadpipe import tenant
from leadpipe.errors import UserError

TENANTS = Path(__file__).resolve().parent.parent / "deployments" / "tenants"
DEMO = TENANTS / "demo.toml"
PRODUCTION = TENANTS / "example-production.toml"


@pytest.fixture
def demo_data() -> dict[str, Any]:
    """The production-shaped example: it has a channel of every network kind."""
    return tomllib.loads(PRODUCTION.read_text())


def test_demo_tenant_loads_the_four_partners_of_formats_md() -> None:
    t = tenant.load("demo")
    assert list(t.partners) == ["harbor", "keystone", "summit", "pinecrest"]
    formats = {k: (p.mortgage.format, p.delivery.format) for k, p in t.partners.items()}
    assert formats == {
        "harbor": ("M32", "D1"),
        "keystone": ("M15", "D2"),
        "summit": ("M15", "D3"),
        "pinecrest": ("M15", "D4"),
    }
    kinds = {k: t.channels[p.channel].kind for k, p in t.partners.items()}
    assert kinds == dict.fromkeys(t.partners, "local")
    production = tenant.load(PRODUCTION)
    kinds = {k: production.channels[p.channel].kind for k, p in production.partners.items()}
    assert kinds == {"harbor": "ftps", "keystone": "graph", "summit": "sftp", "pinecrest": "graph"}
    assert production.landing.uri.startswith("s3://")
    assert {k: p.mortgage for k, p in production.partners.items()} == {
        k: p.mortgage for k, p in t.partners.items()}
    assert t.partners["summit"].mortgage.columns["borrower"] == "BORROWER_NAME"
    assert t.partners["harbor"].mortgage.columns["barcode"] == "IMB"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("HARBOR_CLOSINGS_20261120.xlsx", ("harbor", "mortgage")),
        ("HARBOR_DLV_20261120.csv", ("harbor", "delivery")),
        ("keystone-mtg-2026-11-20.csv", ("keystone", "mortgage")),
        ("Keystone Delivered 20261120.xlsx", ("keystone", "delivery")),
        ("SUMMIT_MORTGAGE_112026.csv", ("summit", "mortgage")),
        ("summit_deliv_20261120.zip", ("summit", "delivery")),
        ("pinecrest_daily_20261120.csv", ("pinecrest", "mortgage")),
        ("PINECREST-CONFIRM-20261120.xlsx", ("pinecrest", "delivery")),
        ("HARBOR_CLOSINGS_2026112.xlsx", None),
        ("unknown.csv", None),
    ],
)
def test_partner_comes_from_the_file_name(filename: str, expected: tuple[str, str] | None) -> None:
    assert tenant.load("demo").partner_for_file(filename) == expected


def test_secrets_are_references_resolved_late(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = tenant.load(PRODUCTION).channels["harbor_ftps"].password
    assert ref is not None
    assert str(ref) == "env:HARBOR_FTPS_PASSWORD"
    monkeypatch.delenv("HARBOR_FTPS_PASSWORD", raising=False)
    with pytest.raises(UserError, match="HARBOR_FTPS_PASSWORD is not set"):
        ref.resolve()
    monkeypatch.setenv("HARBOR_FTPS_PASSWORD", "s3cret")
    assert ref.resolve() == "s3cret"


BROKEN = [
    (lambda d: d["partners"]["harbor"].pop("mailer_id"),
     "partners.harbor.mailer_id: required key is missing"),
    (lambda d: d["partners"]["harbor"]["mortgage"].update(filename="HARBOR_(\\d"),
     "partners.harbor.mortgage.filename: bad regular expression"),
    (lambda d: d["channels"]["summit_sftp"].update(kind="pigeon"),
     "channels.summit_sftp.kind: 'pigeon' is not one of the allowed values"),
    (lambda d: d["partners"]["summit"].update(channel="carrier"),
     "partners.summit.channel: unknown channel 'carrier'"),
    (lambda d: d["partners"]["summit"]["mortgage"]["columns"].pop("zip"),
     "partners.summit.mortgage.columns.zip: required key is missing"),
    (lambda d: d["partners"]["summit"]["mortgage"].update(date_format="MM/DD/YYYY"),
     "partners.summit.mortgage.date_format: date format 'MM/DD/YYYY' has no % directive"),
    (lambda d: d["partners"]["keystone"].update(mailer_id="314159"),
     "partners.keystone.mailer_id: 314159 is also partners.harbor's"),
    (lambda d: d["partners"]["keystone"].update(mailer_id="91234"),
     "partners.keystone.mailer_id: String should match pattern"),
    (lambda d: d["channels"]["summit_sftp"].pop("known_hosts"),
     "channels.summit_sftp.known_hosts: required key is missing for a sftp channel"),
    (lambda d: d["channels"]["summit_sftp"].update(private_key="-----BEGIN KEY"),
     "channels.summit_sftp.private_key: Input should be a valid dictionary"),
    (lambda d: d["partners"]["pinecrest"].update(colour="green"),
     "partners.pinecrest.colour: unknown key"),
    (lambda d: d["partners"]["pinecrest"]["tracking_phones"].update(A="555-0101"),
     "partners.pinecrest.tracking_phones.A: '555-0101' is not an E.164 phone number"),
]


@pytest.mark.parametrize(("breakage", "message"), BROKEN)
def test_a_broken_tenant_names_the_key(demo_data: dict, breakage: Any, message: str) -> None:
    data = copy.deepcopy(demo_data)
    breakage(data)
    with pytest.raises(UserError) as caught:
        tenant.parse(data, "t.toml")
    assert str(caught.value).startswith(f"t.toml: {message}")


def test_cli_reports_a_broken_tenant_on_one_line(tmp_path: Path, cli: Any) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(DEMO.read_text().replace('kind = "local"', 'kind = "telepathy"', 1))
    result = cli("tenant", "check", str(broken))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "channels.harbor_ftps.kind: 'telepathy' is not one of the allowed values" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_reports_bad_toml_and_a_missing_file(tmp_path: Path, cli: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    result = cli("tenant", "check", str(bad))
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr
    missing = cli("tenant", "check", "no-such-tenant")
    assert missing.returncode == 2
    assert "tenant file not found" in missing.stderr
    assert "Traceback" not in result.stderr + missing.stderr


def test_cli_accepts_the_demo_tenant(cli: Any) -> None:
    result = cli("tenant", "check", "demo")
    assert result.returncode == 0, result.stderr
    assert "tenant demo: 4 partners (harbor, keystone, summit, pinecrest)" in result.stdout
