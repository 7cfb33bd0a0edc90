"""A generated partner week arrives over FTPS, the Graph mailbox and SFTP on loopback
servers and goes through the `daily-partner-ingest` flow: every manifest row ends as the
manifest says, and a renamed re-send is rejected as a duplicate."""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from datetime import date
from pathlib import Path

import psycopg
import pytest
from manifest_check import assert_manifest_outcomes
from servers.ftps import PASSWORD, FTPSServer
from servers.graph import CLIENT_SECRET, Attachment, GraphStandIn
from servers.sftp import SFTPServer

from flows.daily_partner_ingest import daily_partner_ingest
from leadpipe import tenant as tenant_config
from sampledata.manifest import load_manifest
from sampledata.partner_day import PartnerDayOptions, generate_partner_days

pytest_plugins = ["servers.tls", "servers.ftps", "servers.sftp", "servers.graph"]

ROOT = Path(__file__).resolve().parent.parent


def _toml(value: object) -> str:
    return json.dumps(value)


def _tenant_file(tmp_path: Path, ftps: FTPSServer, sftp: SFTPServer,
                 graph: GraphStandIn) -> Path:
    """example-production.toml with its channels pointed at the loopback servers."""
    text = (ROOT / "deployments" / "tenants" / "example-production.toml").read_text()
    data = tomllib.loads(text)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sftp.known_hosts_line)
    channels = {
        "harbor_ftps": {"kind": "ftps", "host": ftps.host, "port": ftps.port,
                        "folder": "/outbound", "username": "leadpipe",
                        "password": {"env": "HARBOR_FTPS_PASSWORD"},
                        "ca_file": str(ftps.ca_file)},
        "partner_mailbox": {**data["channels"]["partner_mailbox"],
                            "graph_url": graph.graph_url, "authority_host": graph.base_url,
                            "ca_file": str(ftps.ca_file)},
        "summit_sftp": {"kind": "sftp", "host": sftp.host, "port": sftp.port,
                        "folder": "/drop", "username": "leadpipe",
                        "private_key": {"env": "SUMMIT_SFTP_KEY"},
                        "known_hosts": str(known_hosts)},
        "callcenter_sftp": {**data["channels"]["callcenter_sftp"],
                            "known_hosts": str(known_hosts)},
    }
    lines = []
    for name, settings in channels.items():
        lines.append(f"[channels.{name}]")
        for key, value in settings.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    start, end = text.index("[channels."), text.index("# ------------------------------"
                                                       "---------------------------------- harbor")
    body = text[:start] + "\n".join(lines) + "\n" + text[end:]
    body = body.replace('uri = "s3://leadpipe-landing/example-production"', 'uri = "landing"')
    body = body.replace('credentials_block = "leadpipe-landing-aws"\n', "")
    body = body.replace('database_url = { prefect_secret = "leadpipe-example-database-url" }\n',
                        "")
    path = tmp_path / "servers.toml"
    path.write_text(body)
    return path


def test_a_week_over_ftps_graph_and_sftp_ends_as_the_manifest_says(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ftps_server: FTPSServer, sftp_server: SFTPServer, graph_server: GraphStandIn,
) -> None:
    ftps_server.reset()
    sftp_server.reset()
    graph_server.reset()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HARBOR_FTPS_PASSWORD", PASSWORD)
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SUMMIT_SFTP_KEY", sftp_server.keys["ed25519-openssh"].private_text)
    tenant_path = _tenant_file(tmp_path, ftps_server, sftp_server, graph_server)
    tenant = tenant_config.load(tenant_path)

    week = tmp_path / "week"
    generate_partner_days(PartnerDayOptions(day=date(2026, 11, 16), pieces=80, seed=9,
                                            out=week, days=3, defect_rate=0.1))
    manifest = load_manifest(week)
    by_day: dict[str, list[str]] = defaultdict(list)
    for f in manifest["files"]:
        by_day[f["day"]].append(f["name"])

    def send(name: str, data: bytes, received: str) -> None:
        partner, _ = tenant.partner_for_file(name) or (None, None)
        kind = tenant.channels[tenant.partners[str(partner)].channel].kind
        if kind == "ftps":
            (ftps_server.outbound / name).write_bytes(data)
        elif kind == "sftp":
            (sftp_server.drop / name).write_bytes(data)
        else:
            graph_server.deliver(received, Attachment(name, data))

    for number, (day, names) in enumerate(sorted(by_day.items())):
        for minute, name in enumerate(names):
            send(name, (week / name).read_bytes(), f"{day}T07:{minute:02d}:00Z")
        results = daily_partner_ingest(tenant=str(tenant_path), mailed_on=date.fromisoformat(day))
        assert {r["filename"] for r in results} == set(names), f"day {number + 1}"

    assert not list(ftps_server.outbound.glob("*.*")), "processed files leave the drop folder"
    assert not graph_server.in_folder("inbox"), "processed mail moves to Processed"
    with psycopg.connect(db_url) as conn:
        assert_manifest_outcomes(conn, manifest)

    first = by_day[min(by_day)][0]
    send(first.replace("2026", "2027"), (week / first).read_bytes(), "2026-11-30T07:00:00Z")
    again = daily_partner_ingest(tenant=str(tenant_path))
    assert [(r["filename"], r["status"]) for r in again] == [
        (first.replace("2026", "2027"), "REJECTED_DUPLICATE")]
