"""RIMEClient: the entry point of the SDK (projects, uploads, jobs, images, firewalls)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc

from pytest_rime.proto.v1 import (
    common_pb2,
    firewall_pb2,
    image_registry_pb2,
    model_testing_pb2,
    project_pb2,
    upload_pb2,
)
from pytest_rime.sdk.arguments import (
    check_bin_size,
    config_to_json,
    job_environment,
    parse_data_type,
    parse_status_filters,
)
from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.channel import open_channel, parse_domain
from pytest_rime.sdk.convert import image_to_dict
from pytest_rime.sdk.firewall import RIMEFirewall
from pytest_rime.sdk.image_builder import RIMEImageBuilder
from pytest_rime.sdk.job import RIMEStressTestJob
from pytest_rime.sdk.project import RIMEProject
from pytest_rime.sdk.results import RIMETestRun
from pytest_rime.sdk.uploads import (
    UploadFile,
    directory_files,
    existing_file,
    total_size,
    upload_chunks,
)

JOBS_PAGE_SIZE = 100
"""Jobs fetched per ListTestJobs request."""

PipRequirement = image_registry_pb2.ManagedImage.PipRequirement
PipLibraryFilter = image_registry_pb2.ListImagesRequest.PipLibraryFilter


class RIMEClient:
    """The RIMEClient provides an interface to RIME's backend services.

    It creates projects, starts stress test jobs, and queries the backend for current stress
    test jobs. To initialize the RIMEClient, provide the address of your RIME instance.

    Use it as a context manager (or call :meth:`close`) to close its connection.

    Attributes:
        backend: The connection to the backend (channel and service stubs) that the objects
            this client returns share.
    """

    def __init__(
        self,
        domain: str,
        api_key: str = "",
        channel_timeout: float = 5.0,
        disable_tls: bool = False,
    ) -> None:
        """Connect to a RIME backend.

        Args:
            domain: The base domain/address of the RIME service, ``"host:port"``. An
                ``http://`` (no TLS) or ``https://`` (TLS) prefix is accepted.
            api_key: The api key providing authentication to RIME services, sent as
                ``rime-api-key`` metadata on every call.
            channel_timeout: The amount of time in seconds to wait for channels to become
                ready when opening connections to gRPC servers.
            disable_tls: Connect without TLS (when the domain has no scheme).

        Raises:
            ValueError: If a connection cannot be made to a backend service within timeout
                (a :class:`~pytest_rime.sdk.errors.RIMEError` with code ``UNAVAILABLE``
                naming the address), or the domain is malformed.

        Example:
            .. code-block:: python

                rime_client = RIMEClient("my_vpc.rime.com:443", "api-key")
        """
        target, use_tls = parse_domain(domain, disable_tls)
        raw, channel = open_channel(
            target, use_tls=use_tls, api_key=api_key, ready_timeout=channel_timeout
        )
        self.backend = RIMEBackend(channel, address=target, owned_channel=raw)

    def __repr__(self) -> str:
        return f"RIMEClient(domain={self.backend.address!r})"

    def close(self) -> None:
        """Close the connection; objects from this client stop working."""
        self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Projects -------------------------------------------------------------------------------

    def create_project(self, name: str, description: str) -> RIMEProject:
        """Create a new RIME project in RIME's backend.

        Projects allow you to organize stress test runs as you see fit. A natural way to
        organize stress test runs is to create a project for each specific ML task, such as
        predicting whether a transaction is fraudulent.

        Args:
            name: Name of the new project.
            description: Description of the new project.

        Returns:
            A RIMEProject that describes the created project. Its project_id attribute can be
            used in start_stress_test() and list_stress_test_jobs().

        Raises:
            ValueError: If the request to the ProjectManager service failed.

        Example:
            .. code-block:: python

                project = rime_client.create_project(name="foo", description="bar")
        """
        request = project_pb2.CreateProjectRequest(name=name, description=description)
        response = self.backend.call(self.backend.projects.CreateProject, request)
        return RIMEProject.from_proto(response.project)

    def list_projects(
        self, page_token: str = "", page_size: int = 100
    ) -> tuple[list[RIMEProject], str]:
        """List projects in a paginated form.

        Args:
            page_token: This identifies the page of results to retrieve. To get the next page
                of results, use the second value in the tuple returned by the previous call.
                Leave empty to retrieve the first page of results.
            page_size: The limit on the size of the page of results (at most 100 projects
                by default).

        Returns:
            A ``Tuple[List[RIMEProject], str]`` of the list of projects and the next page
            token (empty on the last page).

        Raises:
            ValueError: If the request to the ProjectManager service fails.

        Example:
            .. code-block:: python

                # Query for 100 projects.
                projects, next_page_token = rime_client.list_projects()
        """
        request = project_pb2.ListProjectsRequest(page_token=page_token, page_size=page_size)
        response = self.backend.call(self.backend.projects.ListProjects, request)
        return [RIMEProject.from_proto(p) for p in response.projects], response.next_page_token

    # Stress tests ---------------------------------------------------------------------------

    def start_stress_test(
        self,
        test_run_config: dict[str, Any],
        project_id: str | None = None,
        custom_image: common_pb2.CustomImage | str | None = None,
        rime_managed_image: str | None = None,
        ram_request_megabytes: int | None = None,
        cpu_request_millicores: int | None = None,
        data_type: str = "tabular",
    ) -> RIMEStressTestJob:
        """Start a RIME model stress test on the backend's ModelTesting service.

        Args:
            test_run_config: Configuration for the test to be run, which specifies paths to
                the model and datasets to used for the test (DESIGN.md 3.2).
            project_id: Identifier for the project where the resulting test run will be
                stored. If not specified, the results will be stored in the default project.
            custom_image: Specification of a customized environment to run the model test in
                (a ``CustomImage``, or its name as a string). It must have all dependencies
                required by your model.
            rime_managed_image: Name of a managed image to use when running the model test.
                To create new managed images with your desired dependencies, use the client's
                create_managed_image() method.
            ram_request_megabytes: Megabytes of RAM requested for the stress test job
                (None: the server default, 4000 MB). The limit is 2x the megabytes requested.
            cpu_request_millicores: Millicores of CPU requested for the stress test job
                (None: the server default, 1500). The limit is 2x the millicores requested.
            data_type: Type of data this test is to be run on. Should be one of ``tabular``,
                ``nlp``, ``images``. Defaults to ``tabular``.

        Returns:
            A RIMEStressTestJob providing information about the model stress test job.

        Raises:
            ValueError: If the request to the ModelTest service failed (e.g. the config is
                invalid: the message names the bad key), ``data_type`` is not one of the
                allowed values, or both ``custom_image`` and ``rime_managed_image`` are given.

        Example:
            .. code-block:: python

                config = {
                    "run_name": "Titanic",
                    "data_info": {
                        "label_col": "Survived",
                        "ref_path": "s3://rime-datasets/titanic/titanic_example.csv",
                        "eval_path": "s3://rime-datasets/titanic/titanic_example.csv",
                    },
                    "model_info": {
                        "path": "s3://rime-models/titanic_s3_test/titanic_example_model.py"
                    },
                }
                job = rime_client.start_stress_test_job(
                    test_run_config=config, project_id="foo", rime_managed_image="tensorflow115"
                )
        """
        request = model_testing_pb2.StartStressTestRequest(
            test_run_config_json=config_to_json(test_run_config),
            project_id=project_id or "",
            data_type=parse_data_type(data_type),
            **job_environment(
                custom_image, rime_managed_image, ram_request_megabytes, cpu_request_millicores
            ),
        )
        response = self.backend.call(self.backend.model_testing.StartStressTest, request)
        return RIMEStressTestJob(self.backend, response.job.id)

    start_stress_test_job = start_stress_test

    def list_stress_test_jobs(
        self, status_filters: list[str] | None = None, project_id: str | None = None
    ) -> list[RIMEStressTestJob]:
        """Query the backend for a list of jobs filtered by status and project ID.

        This is a good way to recover RIMEStressTestJob objects. Note that this only returns
        jobs from the last two days (the server's job time-to-live), and only stress test
        jobs (not firewall or image build jobs).

        Args:
            status_filters: Filter for selecting jobs by a union of statuses. Acceptable
                values: ``pending``, ``running``, ``failed`` (or ``failing``),
                ``succeeded``, ``cancelled`` and their ``JOB_STATUS_*`` names, in any case.
                If omitted, jobs will not be filtered by status.
            project_id: Filter for selecting jobs by project ID. If omitted, jobs from all
                projects will be returned.

        Returns:
            A list of RIMEStressTestJob objects. These are not guaranteed to be in any sorted
            order.

        Raises:
            ValueError: If the provided status_filters array has invalid values (before any
                request is made), or if the request to the ModelTest service failed.

        Example:
            .. code-block:: python

                # Get all pending and succeeded jobs for project 'foo'
                jobs = rime_client.list_stress_test_jobs(
                    status_filters=["JOB_STATUS_PENDING", "JOB_STATUS_SUCCEEDED"],
                    project_id="foo",
                )
        """
        statuses = parse_status_filters(status_filters)
        jobs: list[RIMEStressTestJob] = []
        page_token = ""
        while True:
            request = model_testing_pb2.ListTestJobsRequest(
                selected_statuses=statuses,
                selected_types=[common_pb2.JOB_TYPE_MODEL_STRESS_TEST],
                project_id=project_id or "",
                page_token=page_token,
                page_size=JOBS_PAGE_SIZE,
            )
            response = self.backend.call(self.backend.model_testing.ListTestJobs, request)
            jobs.extend(RIMEStressTestJob(self.backend, job.id) for job in response.jobs)
            page_token = response.next_page_token
            if not page_token:
                return jobs

    def get_test_run(self, test_run_id: str) -> RIMETestRun:
        """The results of a completed test run, by its id (e.g. for a cached run).

        Args:
            test_run_id: The run's id, as ``RIMEStressTestJob.get_test_run_id()`` returns it.

        Returns:
            A RIMETestRun whose ``get_test_cases_result()``, ``get_test_run_result()``,
            ``get_test_batches_result()`` and ``get_link()`` read the run.

        Raises:
            ValueError: The test run does not exist (RIMENotFoundError) or the request
                failed.
        """
        run = RIMETestRun(self.backend, test_run_id)
        run.get_test_run()
        return run

    # Managed images -------------------------------------------------------------------------

    def create_managed_image(
        self, name: str, requirements: list[PipRequirement]
    ) -> RIMEImageBuilder:
        """Create a new managed environment with the desired pip requirements to run RIME on.

        Managed images are built and kept by the RIME backend. Note: images take a while to
        be built. This method returns an object that can be used to track the progress of the
        image building job. The new image is only available for use in a stress test once it
        has status ``READY``.

        Args:
            name: The (unique) name of the new managed image. This acts as the unique
                identifier of the managed image. The call will fail if an image with the
                specified name already exists.
            requirements: List of additional pip requirements to be installed on the managed
                image. A ``ManagedImage.PipRequirement`` can be created with the helper method
                :meth:`pip_requirement`.

        Returns:
            A RIMEImageBuilder object that provides an interface for monitoring the job in the
            backend.

        Raises:
            ValueError: If the request to the ImageRegistry service failed (e.g. the name is
                taken: RIMEAlreadyExistsError).

        Example:
            .. code-block:: python

                requirements = [
                    # Fix the version of `xgboost` to `1.0.2`.
                    rime_client.pip_requirement("xgboost", "==1.0.2"),
                    # We do not care about the installed version of `tensorflow`.
                    rime_client.pip_requirement("tensorflow"),
                ]
                builder_job = rime_client.create_managed_image(
                    "xgboost102_tensorflow", requirements
                )
                # Once this prints out the `READY` status, your image is available for use.
                builder_job.get_status(verbose=True, wait_until_finish=True)
        """
        request = image_registry_pb2.CreateImageRequest(name=name, requirements=requirements)
        response = self.backend.call(self.backend.images.CreateImage, request)
        return RIMEImageBuilder(self.backend, response.image.name, requirements)

    @staticmethod
    def pip_requirement(name: str, version_specifier: str | None = None) -> PipRequirement:
        """Construct a PipRequirement object for use in :meth:`create_managed_image`.

        Args:
            name: The pip library, e.g. ``"xgboost"``.
            version_specifier: A pip version specifier, e.g. ``"==1.0.2"`` or ``">=0.1.2"``
                (None: any version).

        Returns:
            A ``ManagedImage.PipRequirement`` message.
        """
        return PipRequirement(name=name, version_specifier=version_specifier or "")

    @staticmethod
    def pip_library_filter(name: str, fixed_version: str | None = None) -> PipLibraryFilter:
        """Construct a PipLibraryFilter object for use in :meth:`list_managed_images`.

        Args:
            name: The pip library that must be installed.
            fixed_version: The exact version it must have (None: any version).

        Returns:
            A ``ListImagesRequest.PipLibraryFilter`` message.
        """
        return PipLibraryFilter(name=name, fixed_version=fixed_version or "")

    def list_managed_images(
        self,
        pip_library_filters: list[PipLibraryFilter] | None = None,
        page_token: str = "",
        page_size: int = 100,
    ) -> tuple[list[dict[str, Any]], str]:
        """List all the managed images.

        You can search for images with specific pip libraries installed so that you do not
        have to create a new managed image every time you need to run a stress test.

        Args:
            pip_library_filters: Optional list of pip libraries to filter by (images must
                have all of them). Construct each ``ListImagesRequest.PipLibraryFilter`` with
                :meth:`pip_library_filter`.
            page_token: This identifies the page of results to retrieve. To get the next page
                of results, use the second value in the tuple returned by the previous call.
                Leave empty to retrieve the first page of results.
            page_size: The limit on the size of the page of results (at most 100 managed
                images by default).

        Returns:
            A ``Tuple[List[Dict], str]`` of the list of managed images as dicts (``name``,
            ``status``, ``requirements``, ``pip_libraries``, ``job_id``,
            ``create_time_secs``) and the next page token (empty on the last page).

        Raises:
            ValueError: If the request to the ImageRegistry service failed or the list of pip
                library filters is improperly specified.

        Example:
            .. code-block:: python

                # Filter for an image with catboost1.0.3 and tensorflow installed.
                filters = [
                    rime_client.pip_library_filter("catboost", "1.0.3"),
                    rime_client.pip_library_filter("tensorflow"),
                ]
                images, next_page_token = rime_client.list_managed_images(
                    pip_library_filters=filters
                )
                names = [x["name"] for x in images]
        """
        filters = _check_library_filters(pip_library_filters)
        request = image_registry_pb2.ListImagesRequest(
            pip_libraries=filters, page_token=page_token, page_size=page_size
        )
        response = self.backend.call(self.backend.images.ListImages, request)
        return [image_to_dict(image) for image in response.images], response.next_page_token

    # Firewalls ------------------------------------------------------------------------------

    def create_firewall(
        self, name: str, bin_size_seconds: int, test_run_id: str, project_id: str
    ) -> RIMEFirewall:
        """Create a Firewall for a given project.

        Args:
            name: FW name.
            bin_size_seconds: Bin size in seconds. Only supports daily (86400) or hourly
                (3600).
            test_run_id: ID of the stress test run that firewall will be based on.
            project_id: ID of the project this FW belongs to.

        Returns:
            A RIMEFirewall object.

        Raises:
            ValueError: If ``bin_size_seconds`` is not 3600 or 86400 (before any request), or
                if the request to the Firewall service failed (e.g. unknown test run or
                project, or the project already has a firewall).

        Example:
            .. code-block:: python

                # Create FW based on foo stress test in bar project.
                firewall = rime_client.create_firewall("firewall name", 86400, "foo", "bar")
        """
        request = firewall_pb2.CreateFirewallRequest(
            name=name,
            bin_size_seconds=check_bin_size(bin_size_seconds),
            test_run_id=test_run_id,
            project_id=project_id,
        )
        response = self.backend.call(self.backend.firewalls.CreateFirewall, request)
        return RIMEFirewall(self.backend, response.firewall.id)

    def get_firewall(self, firewall_id: str) -> RIMEFirewall:
        """Get a firewall if it exists.

        Query the backend for a RIMEFirewall which can be used to perform Firewall operations.
        If the FW you are trying to fetch does not exist, this will error.

        Args:
            firewall_id: ID of the FW instance to fetch.

        Returns:
            A RIMEFirewall object.

        Raises:
            ValueError: If the FW instance does not exist (RIMENotFoundError) or the request
                failed.

        Example:
            .. code-block:: python

                # Get FW foo if it exists.
                firewall = rime_client.get_firewall("foo")
        """
        request = firewall_pb2.GetFirewallRequest(firewall_id=firewall_id)
        response = self.backend.call(self.backend.firewalls.GetFirewall, request)
        return RIMEFirewall(self.backend, response.firewall.id)

    def get_firewall_for_project(self, project_id: str) -> RIMEFirewall:
        """Get the active fw for a project if it exists.

        Query the backend for an active RIMEFirewall in a specified project which can be used
        to perform Firewall operations. If there is no active Firewall for the project, this
        call will error.

        Args:
            project_id: ID of the project which contains a Firewall.

        Returns:
            A RIMEFirewall object.

        Raises:
            ValueError: If the Firewall does not exist (RIMENotFoundError) or the request
                failed.

        Example:
            .. code-block:: python

                # Get FW in foo-project if it exists.
                firewall = rime_client.get_firewall_for_project("foo-project")
        """
        request = firewall_pb2.GetFirewallForProjectRequest(project_id=project_id)
        response = self.backend.call(self.backend.firewalls.GetFirewallForProject, request)
        return RIMEFirewall(self.backend, response.firewall.id)

    def start_firewall_from_reference(
        self,
        test_run_config: dict[str, Any],
        disable_firewall_events: bool = True,
        project_id: str | None = None,
        custom_image: common_pb2.CustomImage | str | None = None,
        rime_managed_image: str | None = None,
        ram_request_megabytes: int | None = None,
        cpu_request_millicores: int | None = None,
        data_type: str = "tabular",
    ) -> RIMEStressTestJob:
        """Start a RIME Firewall from reference on the backend's ModelTesting service.

        This allows you to start an AI Firewall job on the RIME backend. This will run a
        stress test, create a firewall, and then run firewall tests on your dataset.

        Args:
            test_run_config: Configuration for the test to be run, which specifies paths to
                the model and datasets to used for the test; ``monitoring_info`` gives the
                timestamp column and bin size.
            disable_firewall_events: Do not record firewall events for the bins of this run.
            project_id: Identifier for the project where the resulting test run will be
                stored. If not specified, the results will be stored in the default project.
            custom_image: Specification of a customized environment to run the model test in
                (a ``CustomImage``, or its name as a string).
            rime_managed_image: Name of a managed image to use when running the model test.
            ram_request_megabytes: Megabytes of RAM requested for the job. If none specified,
                will default to 4000MB. The limit is 2x the megabytes requested.
            cpu_request_millicores: Millicores of CPU requested for the job. If none
                specified, will default to 1500mi. The limit is 2x the millicores requested.
            data_type: Type of data this firewall test is to be run on. Should be one of
                ``tabular``, ``nlp``, ``images``. Defaults to ``tabular``.

        Returns:
            A RIMEStressTestJob providing information about the model stress test job (type
            ``JOB_TYPE_FIREWALL_TEST_FROM_REFERENCE``). Once it succeeded, its test run is the
            stress test, and ``get_status()["firewall_id"]`` (or
            :meth:`get_firewall_for_project`) names the firewall it created, with the bins of
            the evaluation data.

        Raises:
            ValueError: If the request to the ModelTest service failed (e.g. the config is
                invalid or names no timestamp column: the message names the key; or the
                project already has a firewall: RIMEAlreadyExistsError), ``data_type`` is not
                one of the allowed values, or both image arguments are given.

        Example:
            .. code-block:: python

                config_from_reference = {
                    "run_name": "Five Day Fraud Detection",
                    "data_info": {
                        "label_col": "is_fraud",
                        "pred_col": "is_fraud_preds",
                        "ref_path": "s3://rime-datasets/fraud_continuous_testing/ref.csv",
                        "eval_path": "s3://rime-datasets/fraud_continuous_testing/eval.csv",
                    },
                    "monitoring_info": {"timestamp_col": "timestamp", "bin_size": "day"},
                }
                job = rime_client.start_firewall_from_reference(
                    test_run_config=config_from_reference,
                    project_id="foo",
                    rime_managed_image="tensorflow115",
                    ram_request_megabytes=8000,
                    cpu_request_millicores=2000,
                )
        """
        request = model_testing_pb2.StartFirewallFromReferenceRequest(
            test_run_config_json=config_to_json(test_run_config),
            project_id=project_id or "",
            data_type=parse_data_type(data_type),
            disable_firewall_events=disable_firewall_events,
            **job_environment(
                custom_image, rime_managed_image, ram_request_megabytes, cpu_request_millicores
            ),
        )
        response = self.backend.call(self.backend.model_testing.StartFirewallFromReference, request)
        return RIMEStressTestJob(self.backend, response.job.id)

    # Uploads --------------------------------------------------------------------------------

    def upload_dataset_file(self, file_path: Path | str) -> str:
        """Upload a dataset file to make it accessible to RIME's backend.

        The uploaded file is stored with RIME's backend in a blob store using its file name.

        Args:
            file_path: Path to the file to be uploaded to RIME's blob store.

        Returns:
            A reference to the uploaded file's location in the blob store
            (``rime://uploads/<id>/<file name>``). This reference can be used to refer to
            that object when writing RIME configs. Please store this reference for future
            access to the file.

        Raises:
            FileNotFoundError: If the path ``file_path`` does not exist.
            IOError: If ``file_path`` is not a file.
            ValueError: If there was an error in uploading ``file_path`` to RIME's blob store
                (e.g. it exceeds the server's upload limit).
        """
        files = [existing_file(file_path)]
        return self._upload(self.backend.uploads.UploadFile, "UploadFile", files)

    def upload_model_directory(self, dir_path: Path | str, upload_hidden: bool = False) -> str:
        """Upload a model directory to make it accessible to RIME's backend.

        The uploaded directory is stored within RIME's backend in a blob store. All files
        contained within ``dir_path`` and its subdirectories are uploaded according to their
        relative paths within ``dir_path``. However, if ``upload_hidden`` is False, all hidden
        files and subdirectories beginning with a '.' are not uploaded.

        Symbolic links are not followed: a directory holding one is refused (``IOError`` naming
        the links), so a link cannot upload files from outside ``dir_path``. To upload what
        the links point to, use :meth:`upload_data_directory` with ``follow_symlinks=True``
        (this method keeps the reference SDK's signature).

        Args:
            dir_path: Path to the directory to be uploaded to RIME's blob store.
            upload_hidden: Whether or not to upload hidden files or subdirectories (ie. those
                beginning with a '.').

        Returns:
            A reference to the uploaded directory's location in the blob store
            (``rime://uploads/<id>``). This reference can be used to refer to that object
            when writing RIME configs. Please store this reference for future access to the
            directory.

        Raises:
            FileNotFoundError: If the directory ``dir_path`` does not exist.
            IOError: If ``dir_path`` is not a directory, contains no files or contains a
                symbolic link.
            ValueError: If there was an error in uploading ``dir_path`` to RIME's blob store.
        """
        files = directory_files(dir_path, upload_hidden=upload_hidden)
        return self._upload(self.backend.uploads.UploadDirectory, "UploadDirectory", files)

    def upload_data_directory(
        self, dir_path: Path | str, upload_hidden: bool = False, *, follow_symlinks: bool = False
    ) -> str:
        """Upload a folder of data: tables with the files they name (e.g. images).

        An addition to the reference SDK, for ``data_type="images"``: the tables' image paths
        are relative to the table's folder, so the folder is uploaded whole. Uploads are
        content-addressed like :meth:`upload_model_directory` (the same files give the same
        reference); a table inside is ``f"{reference}/ref.csv"``.

        Args:
            dir_path: The folder holding the tables and their files.
            upload_hidden: Whether to upload hidden files and subdirectories (names starting
                with '.').
            follow_symlinks: Whether to upload the files symbolic links point to (each linked
                directory once). By default a folder holding a symbolic link is refused, so a
                link cannot upload files from outside ``dir_path`` by accident.

        Returns:
            The folder's reference in the blob store (``rime://uploads/<id>``).

        Raises:
            FileNotFoundError: If the directory ``dir_path`` does not exist.
            IOError: If ``dir_path`` is not a directory, contains no files, or contains a
                symbolic link while ``follow_symlinks`` is false.
            ValueError: If there was an error in uploading ``dir_path`` to RIME's blob store.
        """
        files = directory_files(
            dir_path, upload_hidden=upload_hidden, follow_symlinks=follow_symlinks
        )
        return self._upload(self.backend.uploads.UploadDirectory, "UploadDirectory", files)

    def _upload(
        self,
        method: grpc.StreamUnaryMultiCallable[upload_pb2.UploadChunk, upload_pb2.UploadResponse],
        rpc: str,
        files: Sequence[UploadFile],
    ) -> str:
        response = self.backend.upload(
            method, upload_chunks(files), rpc=rpc, size_bytes=total_size(files)
        )
        return response.rime_uri


def _check_library_filters(filters: Sequence[PipLibraryFilter] | None) -> list[PipLibraryFilter]:
    if filters is None:
        return []
    checked: list[object] = list(filters)
    for index, item in enumerate(checked):
        if not isinstance(item, PipLibraryFilter) or not item.name:
            raise ValueError(
                f"pip_library_filters[{index}] is {item!r}; expected a PipLibraryFilter with a "
                "name, made with RIMEClient.pip_library_filter(name, fixed_version)"
            )
    return list(filters)
