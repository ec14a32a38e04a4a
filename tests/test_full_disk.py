"""A full disk never loses a run: a failed log write or save is one sentence naming the disk's
error, the model is saved where it can be, no truncated checkpoint is left where one is expected,
and a run that could not write where it belongs exits non-zero (so that benchmark.sh does not count
it). The disk is a small tmpfs, which needs root to mount; elsewhere these tests are skipped."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT


def fill(disk, leave: int):
    """Fills the disk but for about `leave` bytes."""
    stat = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))


def train(variant, *args, cwd, tmp):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    command = [
        sys.executable,
        str(ROOT / f"{variant}.py"),
        "--env-id",
        "Hopper-v5",
        "--save-model",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


# One minimal, one full: the code is shared.
@pytest.mark.parametrize("variant", ["ppo_m", "trpo_plus"])
def test_a_disk_that_fills_during_training_stops_the_run_and_saves_the_model_elsewhere(
    variant, small_disk, tmp_path
):
    disk = small_disk
    # The temporary folder, the last fallback: not on the full disk.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fill(disk, leave=40_000)  # the log's first iterations fit, the rest do not
    steps = [
        "--total-timesteps",
        "200000",
        "--num-steps",
        "512",
        "--num-minibatches",
        "4",
        "--update-epochs",
        "1",
    ]
    result = train(variant, *steps, cwd=disk, tmp=elsewhere)
    # Not a finished run: benchmark.sh must not mark it done.
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    errors = result.stderr.strip().splitlines()
    assert all(
        line.startswith("error: ") and "No space left on device" in line for line in errors
    ), errors
    assert errors[0].startswith("error: cannot write the log runs/")
    assert "iter 1/" in result.stdout and "iter 390/" not in result.stdout  # stopped early
    # Nothing truncated where a checkpoint is expected, and the model in the one place that took it.
    assert not [p for p in disk.rglob("*") if p.suffix in (".pt", ".tmp")]
    (saved,) = elsewhere.glob("*.pt")
    assert f"python evaluate.py {saved}" in result.stdout
    checkpoint = torch.load(saved, weights_only=True)
    assert checkpoint["script"] == f"{variant}.py" and checkpoint["obs_rms"]["count"] > 512


def test_a_full_disk_at_the_start_is_one_sentence_before_training(small_disk, tmp_path):
    disk = small_disk
    fill(disk, leave=0)
    result = train("ppo_m", cwd=disk, tmp=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot create the run directory runs/"
    ), lines
    assert "No space left on device" in lines[0] and "iter 1/" not in result.stdout


def test_filming_onto_a_full_disk_keeps_the_returns_and_says_so(small_disk, tmp_path):
    disk = small_disk
    """The returns of the episodes run are printed and logged; no video cut short is left behind."""
    trained = tmp_path / "trained"
    trained.mkdir()
    tiny = ["--total-timesteps", "1024", "--num-steps", "512", "--num-minibatches", "4"]
    assert train("ppo_m", *tiny, cwd=trained, tmp=tmp_path).returncode == 0
    (checkpoint,) = trained.glob("runs/*/ppo_m.pt")
    (disk / "ppo_m.pt").write_bytes(checkpoint.read_bytes())
    fill(disk, leave=30_000)  # room for a little video, not for five episodes of it
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "evaluate.py"), str(disk / "ppo_m.pt"), "--episodes", "5"]
    result = subprocess.run([*command, "--capture-video"], env=env, capture_output=True, text=True)
    if "cannot render" in result.stderr:
        pytest.skip(f"no OpenGL backend here: {result.stderr.strip()}")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: cannot write the videos in {disk}/videos (the disk is full); none of them was kept"
    ]
    assert (
        "(stopped by a failed video, of 5)" in result.stdout
        and "eval: 0 episodes" not in result.stdout
    )
    assert list((disk / "videos").iterdir()) == []
