"""What requests may name and ask for (issue 13, items 6, 9, 10), on real servers.

Config paths name only uploads and remote URLs unless the server allows a local directory;
``custom_image`` only managed or listed environments; long names, deep paths and deep configs,
out-of-range resource requests and test parameters get INVALID_ARGUMENT / OUT_OF_RANGE with a
message naming the field and never the server's data directory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import grpc
import pytest
from PIL import Image
from server_helpers import details, jobs_stub, start_stress_test, wait_for_status

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.datatypes.images import load_image_tables
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.registry import PARAM_RANGES
from pytest_rime.engine.validation import validate_config
from pytest_rime.proto.v1 import common_pb2, model_testing_pb2, upload_pb2, upload_pb2_grpc
from pytest_rime.server.app import RunningServer
from pytest_rime.server.interceptors import ErrorInterceptor
from pytest_rime.server.limits import json_depth_exceeds
from pytest_rime.vocabulary import KNOWN_DATA_TYPES

ServerFactory = Callable[..., RunningServer]


@pytest.fixture
def strict_server(rime_server_factory: ServerFactory) -> RunningServer:
    """A server with the defaults of ``rime serve``: no local path, no custom image allowed."""
    return rime_server_factory(allowed_local_paths=(), allowed_custom_images=())


@pytest.fixture
def strict_channel(strict_server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(strict_server.address) as channel:
        yield channel


def _remote_config(**tests_config: Any) -> dict[str, Any]:
    """A config whose paths all pass the check (memory:// URLs name nothing of the server)."""
    return {
        "data_info": {"ref_path": "memory://a/ref.csv", "eval_path": "memory://a/eval.csv"},
        "model_info": {"path": "memory://a/model.py"},
        "tests_config": tests_config,
    }


def _refused(
    channel: grpc.Channel, config: dict[str, Any], **fields: Any
) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        start_stress_test(channel, config, **fields)
    return info.value.code(), details(info.value)


def _no_jobs(channel: grpc.Channel) -> bool:
    listed = jobs_stub(channel).ListTestJobs(model_testing_pb2.ListTestJobsRequest())
    return list(listed.jobs) == []


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("data_info", "ref_path", "{data}/ref.csv"),  # absolute, where the files really are
        ("data_info", "eval_path", "../../../etc/passwd.csv"),
        ("data_info", "ref_path", "file:///etc/passwd.csv"),
        ("data_info", "eval_path", "simplecache::file:///etc/passwd.csv"),
        ("data_info", "eval_pred_path", "local:///etc/passwd.csv"),
        ("model_info", "path", "{data}/model.py"),
    ],
)
def test_by_default_configs_may_not_name_server_files(
    strict_server: RunningServer,
    strict_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
    section: str,
    key: str,
    value: str,
) -> None:
    write_tabular_dataset(tmp_path / "data")
    config = _remote_config()
    config[section][key] = value.format(data=tmp_path / "data")
    code, message = _refused(strict_channel, config)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith(f"{section}.{key}: ")
    assert str(strict_server.data_dir) not in message
    assert str(tmp_path) not in message  # the value is not echoed back either
    assert _no_jobs(strict_channel)


def test_allowed_local_roots_admit_only_what_resolves_inside_them(
    rime_server_factory: ServerFactory, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    dataset = write_tabular_dataset(project)
    write_tabular_dataset(elsewhere)
    (project / "link.csv").symlink_to(elsewhere / "ref.csv")
    # The root holds the data dir too (as the embedded server's project does).
    server = rime_server_factory(data_dir=project / "rime-data", allowed_local_paths=(project,))
    with grpc.insecure_channel(server.address) as channel:
        for outside in (
            f"{project}/../elsewhere/ref.csv",
            str(project / "link.csv"),
            str(project / "rime-data" / "rime.db.csv"),
            "ref.csv",  # relative: to what?
        ):
            config = dataset.config()
            config["data_info"]["ref_path"] = outside
            code, message = _refused(channel, config)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, outside
            assert message.startswith("data_info.ref_path: "), message
        job = start_stress_test(channel, dataset.config())
        assert wait_for_status(channel, job.id).status == common_pb2.JOB_STATUS_SUCCEEDED


def test_remote_urls_pass_the_path_check(
    strict_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    config = write_tabular_dataset(tmp_path).config()
    config["data_info"]["ref_path"] = "memory://nowhere/ref.csv"
    config["data_info"]["eval_path"] = "memory://nowhere/eval.csv"
    del config["model_info"]
    job = wait_for_status(strict_channel, start_stress_test(strict_channel, config).id)
    assert job.status == common_pb2.JOB_STATUS_FAILED  # accepted, then not found in memory
    assert "ref.csv: file not found" in job.error_message


def test_the_plugins_embedded_server_allows_the_project_directory_only(
    pytester: pytest.Pytester, write_tabular_dataset: Callable[..., Any]
) -> None:
    config = write_tabular_dataset(pytester.path / "data").config()
    pytester.makepyfile(
        test_paths=f"""
        import pytest
        from pytest_rime import RIMEError

        CONFIG = {config!r}

        def test_a_project_file_may_be_named(rime):
            rime.client.start_stress_test(CONFIG).cancel()

        def test_a_file_outside_the_project_may_not(rime):
            data_info = {{**CONFIG["data_info"], "ref_path": "/etc/hosts.csv"}}
            with pytest.raises(RIMEError, match="data_info.ref_path: the path is outside"):
                rime.client.start_stress_test({{**CONFIG, "data_info": data_info}})
        """
    )
    cache = pytester.path / ".cache"
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-o", f"cache_dir={cache}")
    result.assert_outcomes(passed=2)


def test_a_remote_table_cannot_name_image_files_on_the_server_disk(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    on_disk = tmp_path / "secret.png"
    Image.new("L", (8, 8), 200).save(on_disk)
    table = f"image,label\n{on_disk},1\n../secret.png,0\nlocal.png,1\n"
    for name in ("ref.csv", "eval.csv"):
        fs.pipe(f"/hardening/{name}", table.encode())
    data_info = {
        "ref_path": "memory://hardening/ref.csv",
        "eval_path": "memory://hardening/eval.csv",
        "label_col": "label",
    }
    config = validate_config({"data_type": "images", "data_info": data_info})
    data = load_image_tables(config, None, lambda _line: None)
    assert list(data.ref["image"]) == ["", "", "memory:/hardening/local.png"]


@pytest.mark.parametrize("name", ["/bin/sh", sys.executable, "{data}/../../bin/sh"])
def test_custom_image_names_only_allowed_environments(
    strict_server: RunningServer, strict_channel: grpc.Channel, name: str
) -> None:
    image = common_pb2.CustomImage(name=name.format(data=strict_server.data_dir))
    code, message = _refused(strict_channel, _remote_config(), custom_image=image)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "custom_image.name" in message
    assert "--allow-custom-image" in message
    assert _no_jobs(strict_channel)


def test_an_allowed_custom_image_runs(
    rime_server_factory: ServerFactory, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    server = rime_server_factory(allowed_custom_images=(Path(sys.prefix),))
    config = write_tabular_dataset(tmp_path).config()
    with grpc.insecure_channel(server.address) as channel:
        image = common_pb2.CustomImage(name=sys.prefix)
        job = start_stress_test(channel, config, custom_image=image)
        assert wait_for_status(channel, job.id).status == common_pb2.JOB_STATUS_SUCCEEDED


@pytest.mark.parametrize(
    "relative_path",
    ["x" * 256, "/".join(["d"] * 2000) + "/f.csv", "é" * 200],  # 400 bytes in UTF-8
)
def test_long_upload_names_and_deep_paths_are_invalid_arguments(
    strict_server: RunningServer, strict_channel: grpc.Channel, relative_path: str
) -> None:
    stub = upload_pb2_grpc.FileUploadStub(strict_channel)
    chunk = upload_pb2.UploadChunk(relative_path=relative_path, data=b"a\n1\n")
    with pytest.raises(grpc.RpcError) as info:
        stub.UploadDirectory(iter([chunk]))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(info.value).startswith("relative_path: ")
    assert str(strict_server.data_dir) not in details(info.value)
    assert len(details(info.value)) < 300


def test_a_deep_rime_reference_is_an_invalid_argument(
    strict_server: RunningServer, strict_channel: grpc.Channel
) -> None:
    config = _remote_config()
    config["data_info"]["ref_path"] = "rime://uploads/" + "/".join(["d"] * 2000)
    code, message = _refused(strict_channel, config)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("data_info.ref_path: ")
    assert str(strict_server.data_dir) not in message


def test_a_config_nested_100000_levels_is_an_invalid_argument(
    strict_server: RunningServer, strict_channel: grpc.Channel
) -> None:
    for text in ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "[" * 100_000):
        request = model_testing_pb2.StartStressTestRequest(test_run_config_json=text)
        with pytest.raises(grpc.RpcError) as info:
            jobs_stub(strict_channel).StartStressTest(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "test_run_config_json is nested more than" in details(info.value)


def test_the_depth_scan_ignores_brackets_in_strings() -> None:
    assert not json_depth_exceeds(json.dumps({"a": '[[[[[{{{{{\\"[[[['}), 2)
    assert json_depth_exceeds('{"a": {"b": [1]}}', 2)
    assert not json_depth_exceeds('{"a": {"b": [1]}}', 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ram_request_megabytes", 2**62),
        ("ram_request_megabytes", 1_048_577),
        ("cpu_request_millicores", 2**40),
    ],
)
def test_resource_requests_beyond_their_range_are_out_of_range_before_a_job(
    strict_channel: grpc.Channel, field: str, value: int
) -> None:
    code, message = _refused(strict_channel, _remote_config(), **{field: value})
    assert code == grpc.StatusCode.OUT_OF_RANGE
    assert message.startswith(f"{field} must be between 1 and ")
    assert _no_jobs(strict_channel)


@pytest.mark.parametrize(
    ("test_id", "param", "value", "allowed"),
    [
        ("abnormal_inputs.rare_categories", "min_frequency", -1, "[0, 1]"),
        ("attacks.single_feature_changes", "sample_size", -1, "[1, 100000]"),
        ("attacks.single_feature_changes", "grid_size", 10_000_000, "[2, 1000]"),
        ("attacks.bounded_single_feature_changes", "steps", 0, "[1, 1000]"),
    ],
)
def test_test_parameters_out_of_range_are_refused_naming_the_key_and_range(
    strict_channel: grpc.Channel, test_id: str, param: str, value: int, allowed: str
) -> None:
    code, message = _refused(strict_channel, _remote_config(**{test_id: {param: value}}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"tests_config.{test_id}.{param}: expected a number in {allowed}" in message
    assert _no_jobs(strict_channel)


def test_every_numeric_test_parameter_has_a_range_that_validation_enforces() -> None:
    data_info = {"ref_path": "a.csv", "eval_path": "b.csv"}
    checked = 0
    for data_type in KNOWN_DATA_TYPES:
        for spec in all_tests(data_type):
            for name, default in spec.params.items():
                if isinstance(default, bool) or not isinstance(default, int | float):
                    continue
                bounds = PARAM_RANGES[name]
                assert default in bounds, (spec.test_id, name)
                too_big = bounds.maximum * 2 + 1
                beyond = int(too_big) if isinstance(default, int) else float(too_big)
                config = {
                    "data_type": data_type,
                    "data_info": data_info,
                    "tests_config": {spec.test_id: {name: beyond}},
                }
                with pytest.raises(ConfigError, match="expected a number in") as info:
                    validate_config(config)
                assert info.value.key == f"tests_config.{spec.test_id}.{name}"
                checked += 1
    assert checked > 100


def test_random_seed_is_bounded() -> None:
    config = {"data_info": {"ref_path": "a.csv", "eval_path": "b.csv"}, "random_seed": 2**40}
    with pytest.raises(
        ConfigError, match=r"random_seed: expected a non-negative integer of at most 4294967294"
    ):
        validate_config(config)


# -- the error interceptor --------------------------------------------------------------------

_SECRET = "/srv/secret/rime-data/uploads/x"


def _raise(error: BaseException) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    def behavior(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise error

    return behavior


class _Raising(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """``/t/<name>`` raises the exception of that name, each holding a server path."""

    ERRORS: ClassVar[dict[str, BaseException]] = {
        "os": OSError(36, "File name too long", _SECRET),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "runtime": RuntimeError(f"cannot open {_SECRET}"),
    }

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        name = details.method.rsplit("/", 1)[-1]
        if name not in self.ERRORS:
            return None
        return grpc.unary_unary_rpc_method_handler(_raise(self.ERRORS[name]))


@pytest.fixture
def raising_channel() -> Iterator[grpc.Channel]:
    server = grpc.server(ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor()])
    server.add_generic_rpc_handlers((_Raising(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(0)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("os", grpc.StatusCode.INTERNAL),
        ("runtime", grpc.StatusCode.INTERNAL),
        ("recursion", grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_unexpected_errors_never_reach_the_client_with_their_text(
    raising_channel: grpc.Channel, name: str, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        raising_channel.unary_unary(f"/t/{name}", None, None)(b"")
    assert info.value.code() == code
    assert "/srv/secret" not in details(info.value)
    assert type(_Raising.ERRORS[name]).__name__ in details(info.value)
