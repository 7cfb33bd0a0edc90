"""Landing: inbound bytes are stored and hashed before anything parses them.

Each file becomes one `import_batches` row: PENDING when it is new and its
name matches a partner's pattern; REJECTED_DUPLICATE (pointing at the first)
when the same bytes were seen before under any name; QUARANTINED when no
partner's pattern matches its name. Partner identity comes from the file
name only, never from the channel.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from db.queries import sql
from leadpipe.tenant import Tenant
from tasks.landing_zone import LandingZone, landing_key


@dataclass(frozen=True)
class LandedFile:
    """A file after landing: its batch and what happens to it next."""

    batch_id: int
    filename: str
    status: str
    sha256: str
    landing_uri: str
    partner: str | None
    feed: str | None
    format: str | None
    duplicate_of: int | None = None
    message: str | None = None

    @property
    def to_process(self) -> bool:
        return self.status == "PENDING"


def source_type(fmt: str | None) -> str:
    """The `import_batches.source_type` of a partner file format."""
    if fmt is None:
        return "unknown"
    kind = "mortgage" if fmt.startswith("M") else "delivery"
    return f"{kind}_{fmt.lower()}"


def land(
    conn: psycopg.Connection,
    tenant: Tenant,
    zone: LandingZone,
    filename: str,
    data: bytes,
    *,
    channel: str | None = None,
    received_at: datetime | None = None,
) -> LandedFile:
    """Store a file's bytes and record its batch.

    Args:
        conn: the database; the batch row is committed before this returns.
        tenant: whose partner patterns name the file.
        zone: where the bytes go.
        filename: the name the file arrived under.
        data: its bytes.
        channel: the tenant channel it came through, for the record.
        received_at: when it arrived (now by default); part of the landing key.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    uri = zone.put(landing_key(filename, received_at or datetime.now(UTC)), data)
    match = tenant.partner_for_file(filename)
    partner, feed = match if match else (None, None)
    fmt = None
    if partner and feed:
        fmt = getattr(tenant.partners[partner], feed).format
    params = {
        "filename": filename, "source_type": source_type(fmt), "partner": partner,
        "channel": channel, "landing_uri": uri, "sha256": sha256, "file_size": len(data),
    }
    landed = {"filename": filename, "sha256": sha256, "landing_uri": uri, "partner": partner,
              "feed": feed, "format": fmt}
    if match is None:
        message = f"file name {filename!r} matches no partner's pattern in tenant {tenant.name}"
        row = conn.execute(sql("batch_quarantine"), {**params, "error_message": message})
        result = LandedFile(row.fetchone()[0], status="QUARANTINED", message=message, **landed)
    elif (opened := conn.execute(sql("batch_open"), params).fetchone()) is not None:
        result = LandedFile(opened[0], status="PENDING", **landed)
    else:
        batch_id, first, message = conn.execute(sql("batch_duplicate"), params).fetchone()
        result = LandedFile(batch_id, status="REJECTED_DUPLICATE", duplicate_of=first,
                            message=message, **landed)
    # The batch row is durable before the channel is told the file was taken.
    conn.commit()
    return result
