"""ModelTesting servicer: start, watch, list and cancel jobs; stream their logs."""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Iterator
from typing import Any, Protocol

import grpc

from pytest_rime.engine.catalog import supported_data_types
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.firewall import monitoring_settings
from pytest_rime.engine.validation import validate_config
from pytest_rime.proto.v1 import common_pb2, model_testing_pb2, model_testing_pb2_grpc
from pytest_rime.server.convert import (
    config_from_json,
    data_type_from_proto,
    job_status_from_proto,
    job_to_proto,
    job_type_from_proto,
)
from pytest_rime.server.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
)
from pytest_rime.server.images import custom_image_python, image_dir, venv_python
from pytest_rime.server.incremental import parse_incremental_config
from pytest_rime.server.limits import (
    CPU_REQUEST_RANGE_MILLICORES,
    RAM_REQUEST_RANGE_MB,
    resource_request,
)
from pytest_rime.server.records import ImageStatus, JobType
from pytest_rime.server.servicers.context import BackendServicer
from pytest_rime.server.worker import DEFAULT_CPU_MILLICORES, DEFAULT_RAM_MB

LOG_CHUNK_BYTES = 64 * 1024


def parse_config(config_json: str, data_type: str = "") -> dict[str, Any]:
    """Parse and validate a test run config before any job is created.

    Args:
        config_json: The request's config.
        data_type: The request's data type (``''``: the config's own); the config is validated
            as that data type (its ``data_info`` keys and model tasks).

    Raises:
        InvalidArgumentError: Not JSON, not an object, a ``data_type`` other than the
            request's (:func:`with_data_type`), or rejected by the engine's validation (the
            message names the dotted key).
    """
    raw = with_data_type(config_from_json(config_json), data_type)
    try:
        validate_config(raw)
    except ConfigError as exc:
        raise InvalidArgumentError(f"invalid test run config: {exc}") from exc
    return raw


def check_data_type(value: common_pb2.DataType.ValueType) -> str:
    """The request's ``data_type`` as a name (``''`` when unspecified), if supported.

    Raises:
        InvalidArgumentError: Not a supported data type; the message names the supported ones.
    """
    name = data_type_from_proto(value)
    supported = supported_data_types()
    if name and name not in supported:
        raise InvalidArgumentError(
            f"data_type: {name!r} is not supported; supported data types: {', '.join(supported)}"
        )
    return name


def with_data_type(config: dict[str, Any], data_type: str) -> dict[str, Any]:
    """``config`` with the request's ``data_type`` (the config's own, or its default, if none).

    Raises:
        InvalidArgumentError: The config names a different ``data_type`` than the request.
    """
    if not data_type:
        return config
    if config.get("data_type", data_type) != data_type:
        raise InvalidArgumentError(
            f"data_type: the request asks for {data_type!r} but the test run config's "
            f"data_type is {config['data_type']!r}"
        )
    return {**config, "data_type": data_type}


class _ConfigRequest(Protocol):
    """What the stress test and from-reference requests share: a data type and a config."""

    @property
    def data_type(self) -> common_pb2.DataType.ValueType: ...

    @property
    def test_run_config_json(self) -> str: ...


class _JobRequest(Protocol):
    """What every job-starting request has: the interpreter choice and resource limits."""

    @property
    def custom_image(self) -> common_pb2.CustomImage: ...

    @property
    def rime_managed_image(self) -> str: ...

    @property
    def ram_request_megabytes(self) -> int: ...

    @property
    def cpu_request_millicores(self) -> int: ...


def request_config(request: _ConfigRequest) -> dict[str, Any]:
    """The request's validated config, with the request's supported ``data_type``.

    Raises:
        InvalidArgumentError: An unsupported data type, or a config :func:`parse_config` or
            :func:`with_data_type` rejects.
    """
    data_type = check_data_type(request.data_type)
    return parse_config(request.test_run_config_json, data_type)


class ModelTesting(BackendServicer, model_testing_pb2_grpc.ModelTestingServicer):
    """Jobs: stress tests, firewall runs (from reference and on incremental data), logs."""

    def _interpreter(self, custom_image: common_pb2.CustomImage, managed: str) -> str:
        """The Python a job runs with: the server's, a custom image's or a managed image's."""
        if custom_image.name and managed:
            raise InvalidArgumentError(
                "give either custom_image.name or rime_managed_image, not both"
            )
        if managed:
            image = self._backend.store.images.get(managed)
            if image.status is not ImageStatus.READY:
                raise FailedPreconditionError(
                    f"managed image {managed!r} is {image.status.value}, not READY"
                )
            return str(venv_python(image_dir(self._backend.settings.data_dir, managed)))
        if custom_image.name:
            settings = self._backend.settings
            return custom_image_python(
                custom_image.name, settings.data_dir, settings.allowed_custom_images
            )
        return ""

    def _submit(
        self,
        job_type: JobType,
        project_id: str,
        request: _JobRequest,
        *,
        firewall_id: str = "",
        **fields: Any,
    ) -> model_testing_pb2.Job:
        """Queue a job whose ``spec.json`` has the request's interpreter and limits and ``fields``.

        Raises:
            InvalidArgumentError: A bad image choice, a negative limit, or a config path the
                server does not allow.
            OutOfRangeError: A resource request beyond its range (:mod:`limits`).
            FailedPreconditionError: The managed image is not READY.
            DataLossError: The config names a corrupted upload.
        """
        for name in ("config", "reference_config"):
            if name in fields:
                self._backend.paths.check_config(fields[name])
        spec = {
            "type": job_type.value,
            "data_dir": str(self._backend.settings.data_dir),
            "blob_url": self._backend.settings.blob_url,
            "python": self._interpreter(request.custom_image, request.rime_managed_image),
            "ram_request_megabytes": resource_request(
                "ram_request_megabytes",
                request.ram_request_megabytes,
                DEFAULT_RAM_MB,
                RAM_REQUEST_RANGE_MB,
            ),
            "cpu_request_millicores": resource_request(
                "cpu_request_millicores",
                request.cpu_request_millicores,
                DEFAULT_CPU_MILLICORES,
                CPU_REQUEST_RANGE_MILLICORES,
            ),
            **fields,
        }
        job = self._backend.jobs.submit(
            job_type,
            project_id,
            spec,
            firewall_id=firewall_id,
            image_name=request.rime_managed_image,
        )
        return job_to_proto(job)

    def StartStressTest(
        self, request: model_testing_pb2.StartStressTestRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.StartStressTestResponse:
        """Validate the data type and config and queue a stress test job."""
        config = request_config(request)
        project_id = self._backend.project_id(request.project_id)
        job = self._submit(JobType.MODEL_STRESS_TEST, project_id, request, config=config)
        return model_testing_pb2.StartStressTestResponse(job=job)

    def StartFirewallFromReference(
        self,
        request: model_testing_pb2.StartFirewallFromReferenceRequest,
        context: grpc.ServicerContext,
    ) -> model_testing_pb2.StartFirewallFromReferenceResponse:
        """Queue one job: the stress test, the project's firewall on it, and its bins.

        Raises:
            InvalidArgumentError: The data type is unsupported, or the config is invalid or
                names no timestamp column.
            AlreadyExistsError: The project already has a firewall.
        """
        config = request_config(request)
        try:
            monitoring_settings(validate_config(config))
        except ConfigError as exc:
            raise InvalidArgumentError(f"invalid firewall config: {exc}") from exc
        project_id = self._backend.project_id(request.project_id)
        existing = self._backend.store.firewalls.find_for_project(project_id)
        if existing is not None:
            raise AlreadyExistsError(
                f"project {project_id!r} already has firewall {existing.id!r}: send new data "
                "with run_firewall_incremental_data, or start from reference in another project"
            )
        job = self._submit(
            JobType.FIREWALL_TEST_FROM_REFERENCE,
            project_id,
            request,
            config=config,
            enable_events=not request.disable_firewall_events,
        )
        return model_testing_pb2.StartFirewallFromReferenceResponse(job=job)

    def RunFirewallIncrementalData(
        self,
        request: model_testing_pb2.RunFirewallIncrementalDataRequest,
        context: grpc.ServicerContext,
    ) -> model_testing_pb2.RunFirewallIncrementalDataResponse:
        """Queue a firewall batch job on the firewall's current reference run.

        Raises:
            NotFoundError: No such firewall (or its reference run is gone).
            InvalidArgumentError: The incremental config lacks ``eval_path`` or
                ``timestamp_col`` or has a bad key; the message names it.
            FailedPreconditionError: The reference run has no stored config.
        """
        store = self._backend.store
        firewall = store.firewalls.get(request.firewall_id)
        incremental = parse_incremental_config(request.test_run_config_json)
        reference = store.results.get_run(firewall.stress_test_run_id)
        if not reference.config:
            raise FailedPreconditionError(
                f"the reference run {reference.id!r} of firewall {firewall.id!r} has no stored "
                "config; point the firewall at a newer stress test run"
            )
        job = self._submit(
            JobType.FIREWALL_BATCH_TEST,
            firewall.project_id,
            request,
            firewall_id=firewall.id,
            config=incremental.run_config(reference.config),
            reference_config=reference.config,
            reference_test_run_id=reference.id,
            eval_path=incremental.eval_path,
            timestamp_col=incremental.timestamp_col,
            bin_size_seconds=firewall.bin_size_seconds,
            thresholds=incremental.thresholds,
            enable_events=not request.disable_firewall_events,
        )
        return model_testing_pb2.RunFirewallIncrementalDataResponse(job=job)

    def GetTestJob(
        self, request: model_testing_pb2.GetTestJobRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.GetTestJobResponse:
        """One job, with live progress and running time."""
        return model_testing_pb2.GetTestJobResponse(
            job=job_to_proto(self._backend.jobs.get_job(request.job_id))
        )

    def ListTestJobs(
        self, request: model_testing_pb2.ListTestJobsRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.ListTestJobsResponse:
        """One page of the jobs created within the TTL, newest first."""
        if request.project_id:
            self._backend.store.projects.get(request.project_id)
        ttl_secs = self._backend.settings.job_ttl_hours * 3600
        page = self._backend.store.jobs.page(
            statuses=[job_status_from_proto(s) for s in request.selected_statuses],
            types=[job_type_from_proto(t) for t in request.selected_types],
            project_id=request.project_id,
            created_after=time.time() - ttl_secs,
            token=request.page_token,
            size=request.page_size,
        )
        return model_testing_pb2.ListTestJobsResponse(
            jobs=[job_to_proto(self._backend.jobs.with_live_progress(j)) for j in page.items],
            next_page_token=page.next_page_token,
        )

    def CancelJob(
        self, request: model_testing_pb2.CancelJobRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.CancelJobResponse:
        """Cancel a pending or running job; answers once it has stopped."""
        return model_testing_pb2.CancelJobResponse(
            job=job_to_proto(self._backend.jobs.cancel(request.job_id))
        )

    def GetLatestLogs(
        self, request: model_testing_pb2.GetLatestLogsRequest, context: grpc.ServicerContext
    ) -> Iterator[model_testing_pb2.LogChunk]:
        """Stream the job's log (its last ``max_bytes`` bytes when given)."""
        if request.max_bytes < 0:
            raise InvalidArgumentError(f"max_bytes must be >= 0, got {request.max_bytes}")
        path = self._backend.jobs.log_path(request.job_id)
        self._backend.jobs.wait_for_final_log(request.job_id)
        if not path.exists():
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - request.max_bytes) if request.max_bytes else 0)
            while data := log.read(LOG_CHUNK_BYTES):
                if text := decoder.decode(data):
                    yield model_testing_pb2.LogChunk(text=text)
        if tail := decoder.decode(b"", final=True):
            yield model_testing_pb2.LogChunk(text=tail)
