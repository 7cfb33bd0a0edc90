"""An S3 prefix through prefect-aws's `S3Bucket`.

The channel's `bucket` is the bucket, its `folder` (optional) the prefix, and
`credentials_block` (optional) the name of a prefect-aws `AwsCredentials`
block; without one, boto3's usual chain (environment, profile, instance role)
applies. Objects directly under the prefix are listed; processed ones are
moved (copy, then delete) under `<prefix>/processed/`.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions as boto
from prefect_aws import AwsCredentials, S3Bucket

from tasks.transports.base import PROCESSED, FolderTransport, MoveRefused, RemoteFile
from tasks.transports.errors import (
    RetryableTransportError,
    TerminalTransportError,
    from_http_status,
)


class S3Transport(FolderTransport):
    """Objects under a prefix of an S3 bucket."""

    def _bucket(self) -> S3Bucket:
        block = self.channel.credentials_block
        credentials = AwsCredentials.load(block) if block else AwsCredentials()
        return S3Bucket(bucket_name=self.channel.bucket or "", credentials=credentials)

    def _key(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    def _call(self, what: str, operation: Any, *args: Any) -> Any:
        """Run a bucket method synchronously, turning boto errors into transport errors."""
        where = f"{self.name}: {what} in s3://{self.channel.bucket}/{self.folder}"
        try:
            # `_sync` keeps prefect-aws from handing back a coroutine inside an async flow.
            return operation(*args, _sync=True)
        except boto.ClientError as error:
            meta = error.response.get("ResponseMetadata", {})
            code = error.response.get("Error", {}).get("Code", "")
            raise from_http_status(int(meta.get("HTTPStatusCode") or 400), where, code) from None
        except (boto.ConnectionError, boto.HTTPClientError) as error:
            raise RetryableTransportError(f"{where}: {error}") from None
        except boto.BotoCoreError as error:
            raise TerminalTransportError(f"{where}: {error}") from None

    def _list(self) -> list[RemoteFile]:
        prefix = self._key("")
        objects = self._call("list", self._bucket().list_objects, prefix, "/")
        return [
            RemoteFile(
                name=item["Key"][len(prefix):],
                size=item.get("Size"),
                ref=item["Key"],
                modified=item.get("LastModified"),
            )
            for item in objects
            if not item["Key"].endswith("/")
        ]

    def _read(self, file: RemoteFile) -> bytes:
        return self._call(f"fetch {file.name}", self._bucket().read_path, file.ref)

    def _move_to_processed(self, file: RemoteFile) -> None:
        target = self._key(f"{PROCESSED}/{file.name}")
        try:
            self._call(f"move {file.name}", self._bucket().move_object, file.ref, target)
        except TerminalTransportError as refused:
            raise MoveRefused(str(refused)) from None
