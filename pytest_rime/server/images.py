"""Managed images: venvs under ``<data>/images/<name>`` that inherit the server's packages.

The build runs inside an IMAGE_BUILDER worker (:func:`build_image`); the server side only
names and locates images. No grpc here: the worker imports this module.
"""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_rime.server.distribution import PACKAGE_PARENT
from pytest_rime.server.errors import InvalidArgumentError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(\[[A-Za-z0-9_,.-]+\])?$")
_INHERIT_PTH = "_rime_inherit.pth"


def image_dir(data_dir: Path, name: str) -> Path:
    """Where the venv of image ``name`` lives."""
    return data_dir / "images" / name


def venv_python(venv: Path) -> Path:
    """The interpreter of a venv directory."""
    return venv / "bin" / "python"


def _named(path: Path) -> Path:
    """``path`` with ``~``, ``..`` and symlinked directories resolved, its last name kept.

    A venv's ``bin/python`` is a symlink to the base interpreter: resolving it too would
    place every venv's interpreter outside its venv.
    """
    path = Path(os.path.abspath(path.expanduser()))
    return Path(os.path.realpath(path.parent)) / path.name


def custom_image_python(name: str, data_dir: Path, allowed: Sequence[Path]) -> str:
    """The interpreter of ``custom_image.name``: a venv directory or its Python.

    Only environments under the data directory's ``images/`` or under a path given with
    ``rime serve --allow-custom-image`` may be named.

    Raises:
        InvalidArgumentError: Not an allowed environment, or no executable Python; the message
            names the field and quotes the request's value (cut short), nothing of the server.
    """
    try:
        named = _named(Path(name))
    except (OSError, ValueError):
        raise InvalidArgumentError(f"custom_image.name {name[:100]!r} is not a path") from None
    roots = [_named(root) for root in (data_dir / "images", *allowed)]
    if not any(named.is_relative_to(root) for root in roots):
        raise InvalidArgumentError(
            f"custom_image.name {name[:100]!r} is not an environment this server allows: use a "
            "managed image (rime_managed_image), or a venv listed with rime serve "
            "--allow-custom-image"
        )
    try:
        python = venv_python(named) if named.is_dir() else named
        usable = python.is_file() and os.access(python, os.X_OK)
    except OSError:  # e.g. a name too long for the file system
        usable = False
    if not usable:
        raise InvalidArgumentError(
            f"custom_image.name {name[:100]!r} is neither a venv directory nor an executable "
            "Python interpreter"
        )
    return str(python)


def check_image_name(name: str) -> None:
    """Reject image names that are not safe directory names.

    Raises:
        InvalidArgumentError: The name is empty or has characters other than letters,
            digits, ``_``, ``.`` and ``-``.
    """
    if not _NAME.match(name):
        raise InvalidArgumentError(
            f"name: image name {name[:120]!r} is not allowed: use 1-100 letters, digits, "
            "'_', '.' or '-', starting with a letter or digit"
        )


def check_requirement(name: str, version_specifier: str) -> None:
    """Reject requirements pip would misread as options or paths.

    Raises:
        InvalidArgumentError: The name or the specifier is malformed.
    """
    if not _REQUIREMENT_NAME.match(name):
        raise InvalidArgumentError(f"requirement name {name!r} is not a package name")
    if version_specifier and not re.match(r"^\s*(==|>=|<=|~=|!=|>|<|===)", version_specifier):
        raise InvalidArgumentError(
            f"version_specifier {version_specifier!r} of {name!r} must start with an operator "
            "such as '==' or '>='"
        )


def inherited_paths() -> list[str]:
    """The server interpreter's site-packages plus the directory holding ``pytest_rime``."""
    paths = [*site.getsitepackages(), PACKAGE_PARENT]
    return list(dict.fromkeys(paths))


def _venv_site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def _run(command: Sequence[str], log: Callable[[str], None]) -> None:
    log("$ " + " ".join(command))
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in completed.stdout.splitlines():
        log(line)
    if completed.returncode != 0:
        raise RuntimeError(
            f"'{' '.join(command[:4])} ...' failed with exit code {completed.returncode}"
        )


def build_image(spec: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Build the venv of an IMAGE_BUILDER job and report what got installed.

    Args:
        spec: ``image_dir``, ``requirements`` (``[{name, version_specifier}]``),
            ``pip_options`` and ``inherit`` (paths for the ``.pth`` file); with
            ``in_runtime_env`` (the ``ray`` executor) the running interpreter already is the
            image, and only its libraries' versions are read.
        log: One line of build log per call.

    Returns:
        ``{"pip_libraries": [{name, version}]}`` for every requested library.
    """
    if spec.get("in_runtime_env"):
        # On Ray the image is the task's runtime environment, which Ray built from the
        # requirements before the worker started: only report what it holds.
        python = Path(sys.executable)
        requirements = []
    else:
        venv = Path(spec["image_dir"])
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], log)
        python = venv_python(venv)
        site_packages = _venv_site_packages(python)
        (site_packages / _INHERIT_PTH).write_text("\n".join(spec["inherit"]) + "\n")
        requirements = [r["name"] + r.get("version_specifier", "") for r in spec["requirements"]]
    if requirements:
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                *spec["pip_options"],
                *requirements,
            ],
            log,
        )
    names = [r["name"].split("[")[0] for r in spec["requirements"]]
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json, sys; "
            "print(json.dumps([{'name': n, 'version': m.version(n)} for n in sys.argv[1:]]))",
            *names,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    libraries = json.loads(out.stdout)
    for library in libraries:
        log(f"installed {library['name']} {library['version']}")
    return {"pip_libraries": libraries}
