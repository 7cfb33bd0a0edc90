"""prefect.yaml: every flow in flows/ is deployed, and every entrypoint names a real flow."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parent.parent


def test_every_flow_has_a_deployment_and_every_entrypoint_resolves() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployed = {}
    for deployment in spec["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), deployment["entrypoint"]
        assert flow.name == deployment["name"]
        deployed[path] = flow.name
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "flows").glob("*.py")
               if p.name != "__init__.py"}
    assert modules == set(deployed)
    assert deployed["flows/daily_partner_ingest.py"] == "daily-partner-ingest"
    daily = next(d for d in spec["deployments"] if d["name"] == "daily-partner-ingest")
    assert daily["schedules"][0]["cron"] == "30 7 * * 1-5"
