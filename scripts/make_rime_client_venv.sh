#!/usr/bin/env bash
# Create a virtual environment at DIR with the published rime-sdk 0.16.14 client, unchanged, for
# the compat tests (tests/compat/, pytest -m compat; they read the venv from RIME_SDK_VENV).
#
# Usage: scripts/make_rime_client_venv.sh DIR      (PYTHON=python3.11 to pick the interpreter)
#
# The client pins 2022 dependencies (grpcio==1.44, click==8.0.1, ...) that no longer build on
# current Pythons, so it is installed with --no-deps next to current releases of what it
# imports. protobuf stays below 5.26: the client's get_test_cases_result / get_test_run_result
# call MessageToDict(including_default_value_fields=True), which protobuf 5.26 removed.
# Needs the package registry (run it before entering a private network namespace).
set -euo pipefail

dir=${1:?usage: scripts/make_rime_client_venv.sh DIR}
python=${PYTHON:-python3}

"$python" -m venv "$dir"
pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --no-deps "rime-sdk==0.16.14"
"${pip[@]}" grpcio "protobuf<5.26" pandas requests tqdm simplejson "semver<3" deprecated \
    schema click
"$dir/bin/python" - <<'PY'
from importlib.metadata import version

from rime_sdk import RIMEClient  # noqa: F401  (the import the compat tests rely on)

names = ("rime-sdk", "grpcio", "protobuf", "pandas", "requests", "semver", "click")
print("rime client venv ready:", ", ".join(f"{n}=={version(n)}" for n in names))
PY
