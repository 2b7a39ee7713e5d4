"""Servicers for the ``rime`` wire of the published rime-sdk 0.16 client: adapters over v1.

Each rime servicer translates its messages to our v1 servicer's and back, so both wires share
one store, one job queue and the same validation. Both wires are served on one port: v1 stays
because the rime messages cannot carry what our SDK reads (job cancellation and a CANCELLED
status, log tails, per-case test ids, categories, metrics and ERROR status, test batches,
firewall bins and events, server info). :func:`add_rime_servicers` registers them all;
:data:`RIME_SERVICE_NAMES` lists their full names for health checks.
"""

from __future__ import annotations

import grpc

from pytest_rime.proto.rime import (
    file_upload_pb2_grpc,
    firewall_pb2_grpc,
    image_registry_pb2_grpc,
    model_testing_pb2_grpc,
    project_pb2_grpc,
    test_run_results_pb2_grpc,
    test_run_tracker_pb2_grpc,
)
from pytest_rime.server.rime_wire.file_upload import FileUpload
from pytest_rime.server.rime_wire.firewalls import FirewallService
from pytest_rime.server.rime_wire.images import ImageRegistry
from pytest_rime.server.rime_wire.model_testing import ModelTesting
from pytest_rime.server.rime_wire.projects import ProjectManager
from pytest_rime.server.rime_wire.results import ResultsReader
from pytest_rime.server.rime_wire.tracker import TestRunTracker
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.upload_urls import UploadUrls

RIME_SERVICE_NAMES: tuple[str, ...] = (
    "rime.ProjectManager",
    "rime.ModelTesting",
    "rime.TestRunTracker",
    "rime.ResultsReader",
    "rime.ImageRegistry",
    "rime.FirewallService",
    "rime.FileUpload",
)
"""Full names of the ``rime`` services :func:`add_rime_servicers` registers."""


def add_rime_servicers(server: grpc.Server, backend: Backend, upload_urls: UploadUrls) -> None:
    """Register every ``rime`` servicer on ``server``, each adapting to ``backend``.

    ``FileUpload`` hands out ``upload_urls`` (the web app receives their PUTs).
    """
    file_upload_pb2_grpc.add_FileUploadServicer_to_server(FileUpload(upload_urls), server)
    project_pb2_grpc.add_ProjectManagerServicer_to_server(ProjectManager(backend), server)
    model_testing_pb2_grpc.add_ModelTestingServicer_to_server(ModelTesting(backend), server)
    test_run_tracker_pb2_grpc.add_TestRunTrackerServicer_to_server(TestRunTracker(backend), server)
    test_run_results_pb2_grpc.add_ResultsReaderServicer_to_server(ResultsReader(backend), server)
    image_registry_pb2_grpc.add_ImageRegistryServicer_to_server(ImageRegistry(backend), server)
    firewall_pb2_grpc.add_FirewallServiceServicer_to_server(FirewallService(backend), server)
