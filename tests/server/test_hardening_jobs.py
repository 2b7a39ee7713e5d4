"""Jobs that cannot hang, fill the disk or outlive the server; one server per private data dir.

Real servers (in-process and ``rime serve`` subprocesses) run real worker processes; models
block on a :class:`Gate` and start ``sleep`` processes in sessions of their own.
"""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from server_helpers import Gate, get_job, jobs_stub, read_logs, start_stress_test, wait_for_status

from pytest_rime.proto.v1 import common_pb2, model_testing_pb2, upload_pb2, upload_pb2_grpc
from pytest_rime.sdk.client import RIMEClient
from pytest_rime.sdk.embedded import start_embedded_server
from pytest_rime.server.app import RunningServer
from pytest_rime.server.datadir import DataDirInUseError
from pytest_rime.server.joblog import CappedLog
from pytest_rime.server.jobs import SERVER_STOPPED

RUNNING = (common_pb2.JOB_STATUS_RUNNING,)


def _spawner(pid_dir: Path) -> str:
    """Model code starting two ``sleep`` processes that escape the worker's process group.

    One is the model's own child in a new session; the other's parent exits at once, so it is
    re-parented away from the worker. Their pids go to ``pid_dir``.
    """
    orphan = (
        "import subprocess, sys; "
        "p = subprocess.Popen(['sleep', '600'], start_new_session=True); "
        "open(sys.argv[1], 'w').write(str(p.pid))"
    )
    return textwrap.dedent(f"""
        import subprocess as _subprocess, sys as _sys
        _child = _subprocess.Popen(["sleep", "600"], start_new_session=True)
        open({str(pid_dir / "child")!r}, "w").write(str(_child.pid))
        _subprocess.run([_sys.executable, "-c", {orphan!r}, {str(pid_dir / "orphan")!r}])
    """)


def _spawned(pid_dir: Path) -> list[int]:
    return [int((pid_dir / name).read_text()) for name in ("child", "orphan")]


def _gone(pid: int, timeout: float = 30.0) -> bool:
    """Whether ``pid`` ends (or is a zombie) within ``timeout`` seconds; waits on a pidfd."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(descriptor)


@contextmanager
def _reaped(pids: list[int]) -> Iterator[None]:
    """Kill ``pids`` at the end, so a failing test leaves no ``sleep`` behind."""
    try:
        yield
    finally:
        for pid in pids:
            if not _gone(pid, 0):
                os.kill(pid, signal.SIGKILL)


def _worker_pid(data_dir: Path, job_id: str) -> int:
    return int((data_dir / "jobs" / job_id / "pid").read_text())


# -- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["server", "config"])
def test_a_job_over_its_timeout_fails_with_reason_timeout_and_the_queue_moves_on(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
    where: str,
) -> None:
    gate = Gate(tmp_path / "gate")  # never released: the model hangs at import
    hanging = write_tabular_dataset(tmp_path / "hang", model_prelude=gate.prelude).config()
    normal = write_tabular_dataset(tmp_path / "normal").config(job_timeout_secs=600)
    if where == "server":
        server = rime_server_factory(job_timeout_secs=3, cancel_grace_secs=1)
    else:
        server = rime_server_factory(cancel_grace_secs=1)
        hanging["job_timeout_secs"] = 3
    with grpc.insecure_channel(server.address) as channel:
        hung = start_stress_test(channel, hanging)
        queued = start_stress_test(channel, normal)  # waits behind it (one job at a time)
        done = wait_for_status(channel, hung.id, timeout=60)
        assert done.status == common_pb2.JOB_STATUS_FAILED
        assert done.termination_reason == common_pb2.TERMINATION_REASON_TIMEOUT
        assert "timeout of 3 s" in done.error_message
        assert "timeout of 3 s" in read_logs(channel, hung.id)
        assert _gone(_worker_pid(server.data_dir, hung.id), 0)
        after = wait_for_status(channel, queued.id)
        assert after.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(channel, queued.id)
    with RIMEClient(server.address, disable_tls=True) as client:  # the SDK says why
        [sdk_job] = client.list_stress_test_jobs(status_filters=["failed"])
        status = sdk_job.get_status()
    assert status["termination_reason"] == "TERMINATION_REASON_TIMEOUT"
    assert "timeout of 3 s" in status["error_message"]


@pytest.mark.parametrize("bad", [0, -5, "10", 10**9])
def test_a_bad_job_timeout_in_the_config_is_rejected_naming_the_key(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any], bad: Any
) -> None:
    config = write_tabular_dataset(tmp_path).config(job_timeout_secs=bad)
    with pytest.raises(grpc.RpcError) as info:
        start_stress_test(rime_channel, config)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "job_timeout_secs" in str(info.value.details())


# -- process trees ----------------------------------------------------------------------------


@contextmanager
def _job_with_sleeping_grandchildren(
    server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> Iterator[tuple[grpc.Channel, str, list[int]]]:
    """A running job whose model started ``sleep``s in sessions of their own, then blocks.

    Yields the channel, the job id and the pids of the worker and the sleeps (killed on exit
    should the test fail to end them).
    """
    gate = Gate(tmp_path / "gate")
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    prelude = _spawner(pid_dir) + gate.prelude
    config = write_tabular_dataset(tmp_path / "data", model_prelude=prelude).config()
    with grpc.insecure_channel(server.address) as channel:
        job = start_stress_test(channel, config)
        with gate.held_open():  # the model has started its sleeps and blocks
            pids = [_worker_pid(server.data_dir, job.id), *_spawned(pid_dir)]
            with _reaped(pids):
                yield channel, job.id, pids


def test_cancel_ends_grandchildren_in_their_own_sessions(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(cancel_grace_secs=1)
    with _job_with_sleeping_grandchildren(server, tmp_path, write_tabular_dataset) as running:
        channel, job_id, pids = running
        assert not any(_gone(pid, 0) for pid in pids)
        cancelled = jobs_stub(channel).CancelJob(model_testing_pb2.CancelJobRequest(job_id=job_id))
        assert cancelled.job.status == common_pb2.JOB_STATUS_CANCELLED
        assert all(_gone(pid, 10) for pid in pids)


def test_server_stop_ends_the_whole_tree_of_a_running_job(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(cancel_grace_secs=1)
    with _job_with_sleeping_grandchildren(server, tmp_path, write_tabular_dataset) as running:
        _, _, pids = running
        server.stop(grace=0)
        assert all(_gone(pid, 10) for pid in pids)


@pytest.mark.slow
def test_workers_left_by_a_sigkilled_server_are_ended_at_restart(
    rime_server_factory: Callable[..., RunningServer],
    rime_serve_args: list[str],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    gate = Gate(tmp_path / "gate")
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    dataset = write_tabular_dataset(
        tmp_path / "data", model_prelude=_spawner(pid_dir) + gate.prelude
    )
    data_dir = tmp_path / "server"
    embedded = start_embedded_server(data_dir, extra_args=rime_serve_args)
    try:
        with grpc.insecure_channel(embedded.address) as channel:
            config = dataset.config()
            uploads = upload_pb2_grpc.FileUploadStub(channel)
            for section, key, path in (
                ("data_info", "ref_path", dataset.ref_path),
                ("data_info", "eval_path", dataset.eval_path),
                ("model_info", "path", dataset.model_path),
            ):
                chunk = upload_pb2.UploadChunk(relative_path=path.name, data=path.read_bytes())
                config[section][key] = uploads.UploadFile(iter([chunk])).rime_uri
            job = start_stress_test(channel, config)
            with gate.held_open():  # the worker stays blocked, and silent, until we close it
                pids = [_worker_pid(data_dir, job.id), *_spawned(pid_dir)]
                with _reaped(pids):
                    os.kill(embedded.pid, signal.SIGKILL)
                    embedded.process.wait()
                    # The model's own processes outlived the server (the worker itself may
                    # end at its next write to the dead server's log pipe).
                    assert not any(_gone(pid, 0) for pid in pids[1:])

                    server = rime_server_factory(data_dir=data_dir)
                    # Killed by the new server; a multi-threaded worker's pidfd turns readable
                    # once all its threads are torn down, a moment after the kill.
                    assert all(_gone(pid, 10) for pid in pids)
    finally:
        embedded.stop()
    with grpc.insecure_channel(server.address) as channel:
        failed = get_job(channel, job.id)
        assert failed.status == common_pb2.JOB_STATUS_FAILED
        assert failed.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
        assert failed.error_message == SERVER_STOPPED
        if server.settings.executor == "local":  # Ray ends a dead driver's tasks' children itself
            assert "process(es) a previous server left running" in read_logs(channel, job.id)


# -- logs -------------------------------------------------------------------------------------

CHATTY = """
for _i in range(40000):
    print(f"chatter line {_i:05d} " + "x" * 60)
"""


def test_a_model_printing_in_a_loop_keeps_only_the_tail_of_its_log(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    limit = 64 * 1024
    config = write_tabular_dataset(tmp_path, model_prelude=CHATTY).config()
    server = rime_server_factory(job_log_limit_bytes=limit)
    with grpc.insecure_channel(server.address) as channel:
        job = wait_for_status(channel, start_stress_test(channel, config).id)
        log = read_logs(channel, job.id)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED, log
    assert (server.data_dir / "jobs" / job.id / "log.txt").stat().st_size <= limit
    dropped = re.match(r"\[rime server\] (\d+) bytes of earlier log dropped", log)
    assert dropped, log[:300]
    assert int(dropped.group(1)) > 40000 * 70 - limit
    assert "chatter line 00000" not in log
    assert log.rstrip().endswith("[rime server] job succeeded")


def test_capped_log_counts_every_dropped_byte(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    log = CappedLog(path, 2048)
    written = b"".join(f"line {i}\n".encode() for i in range(3000))
    for start in range(0, len(written), 500):
        log.append(written[start : start + 500])
        assert path.stat().st_size <= 2048
    log.close()
    header, _, kept = path.read_bytes().partition(b"\n")
    dropped = int(re.findall(rb"\d+", header)[0])
    assert dropped + len(kept) == len(written)
    assert written.endswith(kept) and kept.startswith(b"line ")


# -- the data directory -----------------------------------------------------------------------


def test_a_second_server_on_the_same_data_dir_fails_naming_the_holder(
    rime_server_factory: Callable[..., RunningServer], tmp_path: Path
) -> None:
    first = rime_server_factory()
    with pytest.raises(
        DataDirInUseError, match=f"in use by another rime server \\(pid {os.getpid()}\\)"
    ):
        rime_server_factory(data_dir=first.data_dir)
    with grpc.insecure_channel(first.address) as channel:  # the first one is unharmed
        assert not jobs_stub(channel).ListTestJobs(model_testing_pb2.ListTestJobsRequest()).jobs
    first.stop()
    rime_server_factory(data_dir=first.data_dir).stop()  # free again once it stopped


@pytest.mark.slow
def test_rime_serve_refuses_a_data_dir_another_rime_serve_holds(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    with start_embedded_server(data_dir) as first:
        second = subprocess.run(
            [sys.executable, "-m", "pytest_rime.cli", "serve", "--data-dir", str(data_dir),
             "--port", "0", "--web-port", "0"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"in use by another rime server (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        with grpc.insecure_channel(first.address) as channel:
            assert not jobs_stub(channel).ListTestJobs(model_testing_pb2.ListTestJobsRequest()).jobs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_database_and_job_files_are_private_whatever_the_umask(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    (data_dir / "rime.db").touch(mode=0o644)  # as an earlier version left them
    os.chmod(data_dir, 0o755)
    config = write_tabular_dataset(tmp_path / "data").config()
    previous = os.umask(0o002)
    try:
        fresh = rime_server_factory(data_dir=tmp_path / "new" / "nested")
        old = rime_server_factory(data_dir=data_dir)
        with grpc.insecure_channel(old.address) as channel:
            job = wait_for_status(channel, start_stress_test(channel, config).id)
    finally:
        os.umask(previous)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
    assert _mode(fresh.data_dir) == 0o700
    assert _mode(data_dir) == 0o700
    for name in ("rime.db", "rime.db-wal", "rime.db-shm", "server.lock"):
        assert _mode(data_dir / name) == 0o600, name
    job_dir = data_dir / "jobs" / job.id
    assert _mode(data_dir / "jobs") == 0o700
    assert _mode(job_dir) == 0o700
    for path in job_dir.iterdir():
        assert _mode(path) == 0o600, path.name
    assert {"spec.json", "log.txt", "result.json", "progress.json"} <= {
        p.name for p in job_dir.iterdir()
    }
