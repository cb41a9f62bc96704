"""The console's snapshot tests run on the versions their SVGs were rendered with (issue 16): the test extra in
pyproject.toml pins them exactly, and the environment running the tests has those versions installed."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
RENDERING = ("textual", "rich", "pytest-textual-snapshot")


def _requirements(extra: str | None) -> dict[str, str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    found = {}
    for line in lines:
        name = line.split(";")[0]
        for op in ("==", ">=", "~=", "<", ">"):
            if op in name:
                name, spec = name.split(op, 1)
                found[name.strip().lower()] = op + spec.strip()
                break
    return found


@pytest.mark.parametrize("package", RENDERING)
def test_the_test_extra_pins_what_renders_the_snapshots_to_the_installed_version(package):
    pinned = _requirements("test").get(package)
    assert pinned == f"=={version(package)}", (
        f"pyproject.toml [test] pins {package} {pinned!r}, the environment has {version(package)}: "
        "bump the pin together with the snapshots")


def test_the_runtime_dependencies_keep_a_range():
    runtime = _requirements(None)
    assert runtime["textual"].startswith(">=") and runtime["rich"].startswith(">=")
