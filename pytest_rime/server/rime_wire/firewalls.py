"""rime FirewallService: create, read, point and look up firewalls through the v1 servicer."""

from __future__ import annotations

import grpc

from pytest_rime.proto.rime import firewall_pb2, firewall_pb2_grpc
from pytest_rime.proto.rime.project_pb2 import SafeURL
from pytest_rime.proto.v1 import firewall_pb2 as v1
from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.firewalls import FirewallService as V1FirewallService

_PROJECT_ID = firewall_pb2.FIREWALL_CONV_ID_TYPE_PROJECT_ID
_FIREWALL_ID = firewall_pb2.FIREWALL_CONV_ID_TYPE_FIREWALL_ID


class FirewallService(firewall_pb2_grpc.FirewallServiceServicer):
    """A project's firewall: continuous testing in time bins against a reference run.

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._v1 = V1FirewallService(backend)

    def _firewall_to_rime(self, firewall: v1.Firewall) -> firewall_pb2.Firewall:
        bins = self._backend.store.firewalls.bins(firewall.id)
        return firewall_pb2.Firewall(
            id=firewall.id,
            name=firewall.name,
            stress_test_run_id=firewall.stress_test_run_id,
            project_id=firewall.project_id,
            batch_metadata=firewall_pb2.BatchMetadata(
                bin_size_in_seconds=firewall.bin_size_seconds,
                test_run_ids=[b.test_run_id for b in bins],
            ),
            web_app_url=SafeURL(url=f"{self._backend.web_base_url}/firewalls/{firewall.id}"),
        )

    def _get(self, firewall_id: str, context: grpc.ServicerContext) -> v1.Firewall:
        return self._v1.GetFirewall(
            v1.GetFirewallRequest(firewall_id=firewall_id), context
        ).firewall

    def CreateFirewall(
        self, request: firewall_pb2.CreateFirewallRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.CreateFirewallResponse:
        """Create the project's firewall on a stored run (INVALID_ARGUMENT, NOT_FOUND)."""
        firewall = request.firewall
        created = self._v1.CreateFirewall(
            v1.CreateFirewallRequest(
                name=firewall.name,
                bin_size_seconds=firewall.batch_metadata.bin_size_in_seconds,
                test_run_id=firewall.stress_test_run_id,
                project_id=firewall.project_id,
            ),
            context,
        )
        return firewall_pb2.CreateFirewallResponse(firewall_id=created.firewall.id)

    def UpdateFirewall(
        self, request: firewall_pb2.UpdateFirewallRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.UpdateFirewallResponse:
        """Point the firewall at another reference run: the only field the mask may select."""
        mask = request.mask
        others = [name for name in ("name", "project_id") if getattr(mask, name)] + (
            ["batch_metadata_mask"] if mask.HasField("batch_metadata_mask") else []
        )
        if others or not mask.stress_test_run_id:
            raise InvalidArgumentError(
                "mask: only stress_test_run_id can be updated"
                + (f" (asked for {', '.join(others)})" if others else "")
            )
        self._v1.UpdateFirewall(
            v1.UpdateFirewallRequest(
                firewall_id=request.firewall.id,
                stress_test_run_id=request.firewall.stress_test_run_id,
            ),
            context,
        )
        return firewall_pb2.UpdateFirewallResponse()

    def ListFirewalls(
        self, request: firewall_pb2.ListFirewallsRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.ListFirewallsResponse:
        """The named firewalls (NOT_FOUND for any unknown id); the read mask is ignored."""
        if not request.firewall_ids:
            raise InvalidArgumentError("firewall_ids: name at least one firewall")
        return firewall_pb2.ListFirewallsResponse(
            firewalls=[
                self._firewall_to_rime(self._get(firewall_id, context))
                for firewall_id in request.firewall_ids
            ]
        )

    def ConvertIDs(
        self, request: firewall_pb2.ConvertIDsRequest, context: grpc.ServicerContext
    ) -> firewall_pb2.ConvertIDsResponse:
        """Map project ids to their firewalls' ids or back (NOT_FOUND when one has none)."""
        kinds = (request.src_type, request.dst_type)
        if kinds == (_PROJECT_ID, _FIREWALL_ID):
            mapping = {
                project_id: self._v1.GetFirewallForProject(
                    v1.GetFirewallForProjectRequest(project_id=project_id), context
                ).firewall.id
                for project_id in request.src_ids
            }
        elif kinds == (_FIREWALL_ID, _PROJECT_ID):
            mapping = {
                firewall_id: self._get(firewall_id, context).project_id
                for firewall_id in request.src_ids
            }
        else:
            raise InvalidArgumentError(
                "src_type and dst_type must be FIREWALL_CONV_ID_TYPE_PROJECT_ID and "
                "FIREWALL_CONV_ID_TYPE_FIREWALL_ID, either way round; got "
                f"{request.src_type} and {request.dst_type}"
            )
        return firewall_pb2.ConvertIDsResponse(src_dst_id_mapping=mapping)
