"""The landing zone: every inbound file's bytes, kept before anything parses them.

Keys follow DESIGN.md: `raw/YYYY/MM/DD/HH/<name>_<timestamp><ext>`. A local
folder by default; an S3 bucket through a prefect-aws `S3Bucket` block when the
tenant's landing URI is `s3://...`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import unquote, urlparse

from leadpipe import settings
from leadpipe.tenant import Tenant


class LandingZone(Protocol):
    """Where landed bytes are written and read back from."""

    def put(self, key: str, data: bytes) -> str:
        """Store bytes under a key; returns the URI they can be read back from."""
        ...

    def get(self, uri: str) -> bytes:
        """The bytes stored at a URI this zone returned."""
        ...

    def location(self, key: str) -> str:
        """Where a key (or a key prefix) is, for people to look."""
        ...


def landing_key(name: str, received_at: datetime) -> str:
    """`raw/YYYY/MM/DD/HH/<stem>_<timestamp><suffix>` for a file received at a time."""
    at = received_at.astimezone(UTC)
    path = PurePosixPath(name)
    stamp = at.strftime("%Y%m%dT%H%M%S%fZ")
    return f"raw/{at:%Y/%m/%d/%H}/{path.stem}_{stamp}{path.suffix}"


class LocalZone:
    """A landing zone in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, key: str, data: bytes) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        partial.replace(target)
        return target.as_uri()

    def get(self, uri: str) -> bytes:
        return Path(unquote(urlparse(uri).path)).read_bytes()

    def location(self, key: str) -> str:
        return str(self.root / key)


class S3Zone:
    """A landing zone in an S3 bucket, through a prefect-aws `S3Bucket` block."""

    def __init__(self, uri: str, block_name: str) -> None:
        from prefect_aws import S3Bucket

        self.prefix = uri.removeprefix("s3://").partition("/")[2].strip("/")
        self.bucket = S3Bucket.load(block_name)

    def put(self, key: str, data: bytes) -> str:
        path = f"{self.prefix}/{key}" if self.prefix else key
        self.bucket.write_path(path, data)
        return f"s3://{self.bucket.bucket_name}/{path}"

    def get(self, uri: str) -> bytes:
        path = uri.removeprefix("s3://").partition("/")[2]
        return self.bucket.read_path(path)

    def location(self, key: str) -> str:
        path = f"{self.prefix}/{key}" if self.prefix else key
        return f"s3://{self.bucket.bucket_name}/{path}"


def zone_for(tenant: Tenant) -> LandingZone:
    """The landing zone a tenant's files go to."""
    landing = tenant.landing
    if landing.uri.startswith("s3://"):
        assert landing.credentials_block is not None, "checked when the tenant file loads"
        return S3Zone(landing.uri, landing.credentials_block)
    # A relative folder is under LEADPIPE_HOME (./.leadpipe by default).
    return LocalZone(settings.home() / landing.uri)
