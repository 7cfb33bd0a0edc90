"""Where things live, from the environment first and the embedded defaults second.

`DATABASE_URL`, `RAY_ADDRESS` and `PREFECT_API_URL` point at production services
when set; otherwise everything runs embedded under the project's `.leadpipe/`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The folder for local state: embedded database, landing zone, reports."""
    return Path(os.environ.get("LEADPIPE_HOME", PROJECT_ROOT / ".leadpipe")).resolve()


def database_url() -> str | None:
    """The production database, or None for the embedded one."""
    return os.environ.get("DATABASE_URL") or None


def ray_address() -> str | None:
    """A Ray cluster's address, or None for a local `ray.init()`."""
    return os.environ.get("RAY_ADDRESS") or None


def tenants_dir() -> Path:
    """Where tenant parameter files live."""
    return Path(os.environ.get("LEADPIPE_TENANTS_DIR", PROJECT_ROOT / "deployments" / "tenants"))


def default_tenant() -> str:
    """The tenant a command runs for when none is named."""
    return os.environ.get("LEADPIPE_TENANT", "demo")


QUIET_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
}


def apply_quiet_defaults() -> None:
    """Offline-friendly Prefect and Ray settings, unless the environment says otherwise.

    No telemetry leaves the machine, and the ephemeral Prefect API gets time
    to start on a 2-core machine (its 20 s default is tight).
    """
    for name, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(name, value)
