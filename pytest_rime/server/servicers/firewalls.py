"""FirewallService servicer: firewalls and what the store has of their bins and events."""

from __future__ import annotations

import grpc

from pytest_rime.proto.v1 import firewall_pb2, firewall_pb2_grpc
from pytest_rime.server.convert import (
    firewall_bin_to_proto,
    firewall_event_to_proto,
    firewall_to_proto,
)
from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.servicers.context import BackendServicer
from pytest_rime.vocabulary import BIN_SIZES_SECONDS as BIN_SIZES_SECONDS  # re-exported


class FirewallService(BackendServicer, firewall_pb2_grpc.FirewallServiceServicer):
    """Create, read and update firewalls; list their bins and events."""

    def CreateFirewall(
        self, request: firewall_pb2.CreateFirewallRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.CreateFirewallResponse:
        """Create the firewall of a project against a reference run."""
        if request.bin_size_seconds not in BIN_SIZES_SECONDS:
            raise InvalidArgumentError(
                f"bin_size_seconds must be 3600 (hourly) or 86400 (daily), "
                f"got {request.bin_size_seconds}"
            )
        if not request.name:
            raise InvalidArgumentError("firewall name must not be empty")
        project_id = self._backend.project_id(request.project_id)
        store = self._backend.store
        store.results.get_run(request.test_run_id)
        firewall = store.firewalls.create(
            request.name, project_id, request.bin_size_seconds, request.test_run_id
        )
        return firewall_pb2.CreateFirewallResponse(firewall=firewall_to_proto(firewall))

    def GetFirewall(
        self, request: firewall_pb2.GetFirewallRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.GetFirewallResponse:
        """One firewall."""
        firewall = self._backend.store.firewalls.get(request.firewall_id)
        return firewall_pb2.GetFirewallResponse(firewall=firewall_to_proto(firewall))

    def GetFirewallForProject(
        self, request: firewall_pb2.GetFirewallForProjectRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.GetFirewallForProjectResponse:
        """The firewall of a project."""
        project_id = self._backend.project_id(request.project_id)
        firewall = self._backend.store.firewalls.get_for_project(project_id)
        return firewall_pb2.GetFirewallForProjectResponse(firewall=firewall_to_proto(firewall))

    def UpdateFirewall(
        self, request: firewall_pb2.UpdateFirewallRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.UpdateFirewallResponse:
        """Point a firewall at another reference run."""
        self._backend.store.results.get_run(request.stress_test_run_id)
        firewall = self._backend.store.firewalls.update(
            request.firewall_id, request.stress_test_run_id
        )
        return firewall_pb2.UpdateFirewallResponse(firewall=firewall_to_proto(firewall))

    def ListFirewallEvents(
        self, request: firewall_pb2.ListFirewallEventsRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.ListFirewallEventsResponse:
        """The firewall's stored events."""
        events = self._backend.store.firewalls.events(request.firewall_id)
        return firewall_pb2.ListFirewallEventsResponse(
            events=[firewall_event_to_proto(e) for e in events]
        )

    def ListFirewallBins(
        self, request: firewall_pb2.ListFirewallBinsRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.ListFirewallBinsResponse:
        """The firewall's stored bins."""
        bins = self._backend.store.firewalls.bins(request.firewall_id)
        return firewall_pb2.ListFirewallBinsResponse(bins=[firewall_bin_to_proto(b) for b in bins])
