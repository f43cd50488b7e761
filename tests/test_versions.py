"""The pure packages run on the GPU machines' Python 3.12 as well as this project's 3.11: every
file compiles under each interpreter found here (3.11 is the one running the tests; 3.12 comes
from pyenv where installed, else that half is skipped)."""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = ("legan", "quality", "faces")
COMPILE_ALL = """
import sys, pathlib
bad = []
for name in sys.argv[1:]:
    for path in sorted(pathlib.Path(name).rglob("*.py")):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as exc:
            bad.append(f"{path}:{exc.lineno}: {exc.msg}")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""


def _interpreter(version: str):
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    for path in candidates:
        try:
            out = subprocess.run([path, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                                 text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == str(tuple(int(v) for v in version.split("."))):
            return path
    return None


@pytest.mark.parametrize("version", ["3.11", "3.12"])
def test_pure_packages_compile_under_python(version):
    python = sys.executable if sys.version_info[:2] == tuple(map(int, version.split("."))) else _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this machine")
    proc = subprocess.run([python, "-c", COMPILE_ALL, *PURE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gpu_pins_match_the_project_pins_apart_from_torch():
    """requirements-gpu.txt installs the same versions of the shared packages as the locks
    (requirements-dev.txt: the runtime lock plus the test tools)."""
    def pins(name):
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("#")[0].strip().split("==", 1) for line in lines if "==" in line and not line.startswith("#"))

    gpu, cpu = pins("requirements-gpu.txt"), pins("requirements-dev.txt")
    assert gpu.pop("torch") == "2.11.0"
    assert {k: cpu.get(k) for k in gpu} == gpu
