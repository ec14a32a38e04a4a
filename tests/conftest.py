"""Shared test helpers: load a variant script as a module, run it as a user would, read its logs."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The tools import each other by name (benchmark_report.py imports report_stats.py), as they do when
# run as scripts from the repository, whatever folder pytest was started in.
sys.path.insert(0, str(ROOT))
VARIANTS = ["ppo_m", "ppo_continuous", "trpo", "trpo_plus"]
PRESENT = [v for v in VARIANTS if (ROOT / f"{v}.py").exists()]
PPO = [v for v in PRESENT if v.startswith("ppo")]
TRPO = [v for v in PRESENT if v.startswith("trpo")]
# The variants with the nine switches.
FULL = [v for v in PRESENT if v in ("ppo_continuous", "trpo_plus")]

# A few hundred steps: 4 iterations of 128 steps, small enough for CI, long enough for episodes
# to end.
TINY = [
    "--total-timesteps",
    "512",
    "--num-steps",
    "128",
    "--num-minibatches",
    "4",
    "--update-epochs",
    "2",
]


def load(name: str):
    """Import a variant script by path; it does no work at import time."""
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(
    name: str, *args: str, cwd, timeout: float = 300, **popen_kwargs
) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen_kwargs,
    )


def run_dirs(cwd) -> list[pathlib.Path]:
    return sorted(pathlib.Path(cwd, "runs").iterdir())


def read_scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run, by tag, as (step, value) pairs; nothing subsampled."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


@pytest.fixture(params=PRESENT)
def variant(request):
    return request.param


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: a disk that fills up. Mounting it needs root."""
    if os.geteuid() != 0:
        pytest.skip("a small tmpfs as a full disk needs root to mount it")
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)
