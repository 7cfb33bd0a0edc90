"""Flow `import-upload`: an operator's CSV or MySQL-dump file through the migration path.

The file is landed first (kept and hashed in the landing zone), so an upload
seen before is rejected by its checksum like any other import.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from prefect import flow

from flows.full_migration import migrate_one
from leadpipe import tenant as tenant_config
from tasks.landing_zone import landing_key, zone_for


@flow(name="import-upload", log_prints=True)
def import_upload(path: str, tenant: str = "demo", batch_rows: int = 50_000) -> dict:
    """Land an uploaded file and migrate it; returns its reconciliation."""
    t = tenant_config.load(tenant)
    source = Path(path)
    uri = zone_for(t).put(landing_key(source.name, datetime.now(UTC)), source.read_bytes())
    landed = unquote(urlparse(uri).path) if uri.startswith("file://") else path
    return migrate_one(landed, tenant, batch_rows, upload=True)
