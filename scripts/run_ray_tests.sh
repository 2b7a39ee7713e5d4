#!/usr/bin/env bash
# Run the Ray tests (pytest -m ray) inside a private network namespace with loopback only:
# Ray binds the machine's interface address even when told 127.0.0.1, and test traffic must stay
# on loopback. Needs root (unshare -n) and the ray extra: pip install -e ".[test,ray]".
# Extra arguments go to pytest, e.g. scripts/run_ray_tests.sh tests/ray/test_ray_executor.py -x
set -euo pipefail
cd "$(dirname "$0")/.."
exec unshare --net -- sh -c 'ip link set lo up && exec python -m pytest -m ray "$@"' run_ray_tests "$@"
