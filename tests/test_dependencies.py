"""The lock files are generated from pyproject.toml and agree with it."""
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", re.M)


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / lock).read_text()
    return {canonicalize_name(name): Version(version) for name, version in PIN.findall(text)}


def requirements(*groups: str) -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    for group in groups:
        found += [Requirement(line) for line in PROJECT["optional-dependencies"][group]]
    return found


@pytest.mark.parametrize("lock, groups", [
    ("requirements.txt", ()),
    ("requirements-dev.txt", ("test", "notebooks")),
])
def test_every_direct_dependency_is_pinned_within_its_range(lock, groups):
    locked = pins(lock)
    for requirement in requirements(*groups):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is in pyproject.toml but not in {lock}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{lock} pins {name}=={locked[name]}, outside pyproject's {requirement.specifier}: run `make lock`")


def test_runtime_lock_holds_no_test_tools():
    runtime = pins("requirements.txt")
    for requirement in requirements("test", "notebooks")[len(PROJECT["dependencies"]):]:
        assert canonicalize_name(requirement.name) not in runtime, requirement.name


def test_torch_is_pinned_to_the_cpu_build():
    # A bare `torch==X` lets pip pick PyPI's multi-GB CUDA build on a fresh CPU machine.
    for lock in ("requirements.txt", "requirements-dev.txt"):
        assert pins(lock)["torch"].local == "cpu", lock


def test_one_opencv_distribution():
    # opencv-python and opencv-python-headless install the same cv2 module over each other.
    for lock in ("requirements.txt", "requirements-dev.txt"):
        opencv = [name for name in pins(lock) if name.startswith("opencv")]
        assert len(opencv) == 1, (lock, opencv)
