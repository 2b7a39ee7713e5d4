"""Regenerate pytest_rime/proto/{v1,rime} from protos/ (run with the pinned grpcio-tools).

Usage: python scripts/gen_protos.py [--check]

With --check, generate into a temporary directory and exit 1 when the committed code differs.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE_DIRS = tuple(Path("pytest_rime") / "proto" / name for name in ("v1", "rime"))
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_root: Path) -> list[Path]:
    """Run protoc on every .proto file and return the generated files, relative to out_root."""
    # protoc finds the mypy-protobuf plugins on PATH; they live beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    protos = sorted(p for d in PACKAGE_DIRS for p in (PROTO_ROOT / d).glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package_dir in PACKAGE_DIRS:
        (out_root / package_dir / "__init__.py").write_text(
            '"""Generated protobuf and gRPC code; do not edit."""\n'
        )
    return generated_files(out_root)


def generated_files(root: Path) -> list[Path]:
    """The generated files (and package markers) under ``root``, relative to it."""
    return sorted(
        p.relative_to(root)
        for package_dir in PACKAGE_DIRS
        if (root / package_dir).is_dir()
        for p in (root / package_dir).iterdir()
        if p.name == "__init__.py" or p.name.endswith(GENERATED_SUFFIXES)
    )


def main() -> int:
    """Generate into the package, or compare with it under --check."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="Fail when committed code drifts")
    options = parser.parse_args()
    if not options.check:
        for package_dir in PACKAGE_DIRS:
            for old in (ROOT / package_dir).glob("*_pb2*.py*"):
                old.unlink()
        generate(ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        committed = generated_files(ROOT)
        drift = sorted(set(fresh) ^ set(committed))
        drift += [
            p
            for p in fresh
            if p in committed and not filecmp.cmp(Path(tmp) / p, ROOT / p, shallow=False)
        ]
        for path in drift:
            print(f"generated code drifted: {path}", file=sys.stderr)
        if drift:
            print("run: python scripts/gen_protos.py", file=sys.stderr)
            return 1
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
