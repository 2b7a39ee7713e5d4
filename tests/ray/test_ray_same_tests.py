"""The integration tests of local workers, run unchanged with jobs on a Ray cluster.

Each test below is imported from tests/server or tests/sdk; in this directory the
``rime_server_factory`` fixture starts servers with ``executor="ray"`` (conftest.py), so the
same assertions (results, status, progress, logs, cancel, timeout, OOM, crash, managed image,
firewall, restart) now hold for jobs that run as Ray tasks.
"""

from __future__ import annotations

import pytest
from test_hardening_jobs import (
    test_a_job_over_its_timeout_fails_with_reason_timeout_and_the_queue_moves_on,
    test_a_model_printing_in_a_loop_keeps_only_the_tail_of_its_log,
    test_cancel_ends_grandchildren_in_their_own_sessions,
    test_server_stop_ends_the_whole_tree_of_a_running_job,
    test_workers_left_by_a_sigkilled_server_are_ended_at_restart,
)
from test_images import (
    offline_server,
    test_failed_build_fails_the_image_and_jobs_cannot_use_it,
    test_managed_image_builds_offline_and_runs_a_stress_test,
)
from test_jobs import (
    test_crashing_worker_fails_the_job_and_the_server_keeps_serving,
    test_model_running_out_of_memory_while_predicting_is_oomkilled_not_skipped,
    test_stress_test_on_uploaded_files_stores_results,
    test_unknown_rime_reference_fails_the_job_with_a_clear_message,
    test_worker_applies_cpu_and_memory_limits_and_custom_interpreter,
)
from test_restart import test_jobs_running_when_the_server_died_are_failed_at_startup
from test_sdk_firewall import test_firewall_lifecycle
from test_sdk_jobs import test_cancel_a_running_job, test_stress_test_end_to_end

pytestmark = pytest.mark.ray

# Not here: test_jobs.test_cancel_running_and_pending_jobs reads the worker's pid file as soon as
# the job is RUNNING; a Ray job is RUNNING once submitted, its pid known when its task starts on
# a node. Cancelling running jobs on Ray is covered by the SDK's cancel test and the
# grandchildren test below.

__all__ = [
    "offline_server",
    "test_a_job_over_its_timeout_fails_with_reason_timeout_and_the_queue_moves_on",
    "test_a_model_printing_in_a_loop_keeps_only_the_tail_of_its_log",
    "test_cancel_a_running_job",
    "test_cancel_ends_grandchildren_in_their_own_sessions",
    "test_crashing_worker_fails_the_job_and_the_server_keeps_serving",
    "test_failed_build_fails_the_image_and_jobs_cannot_use_it",
    "test_firewall_lifecycle",
    "test_jobs_running_when_the_server_died_are_failed_at_startup",
    "test_managed_image_builds_offline_and_runs_a_stress_test",
    "test_model_running_out_of_memory_while_predicting_is_oomkilled_not_skipped",
    "test_server_stop_ends_the_whole_tree_of_a_running_job",
    "test_stress_test_end_to_end",
    "test_stress_test_on_uploaded_files_stores_results",
    "test_unknown_rime_reference_fails_the_job_with_a_clear_message",
    "test_worker_applies_cpu_and_memory_limits_and_custom_interpreter",
    "test_workers_left_by_a_sigkilled_server_are_ended_at_restart",
]
