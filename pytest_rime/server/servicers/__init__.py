"""gRPC servicers: thin adapters from messages to the store, blob store and job queue."""

from __future__ import annotations
