"""Types of the object storage fixtures (tests/objectstore/conftest.py): the emulator, a bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class S3:
    """The emulator of one test module and a bucket of one test."""

    endpoint: str
    secret: str
    bucket: str
    client: Any
    """A boto3 S3 client of the emulator (what the tests inspect and corrupt objects with)."""

    def url(self, key: str = "") -> str:
        """``s3://<bucket>/<key>``."""
        return f"s3://{self.bucket}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        """The keys of the bucket's objects under ``prefix``, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        """The bytes of object ``key``."""
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        """Write object ``key`` (behind the server's back)."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its endpoint and the secret key its clients use."""

    endpoint: str
    secret: str
