"""A full disk: a checkpoint that does not fit leaves nothing behind, and filming onto it keeps the
returns and ends in one sentence. (A training run's log on a full disk may end the run with
TensorBoard's own error, as in the reference implementations.) The disk is a small tmpfs, which
needs root to mount; elsewhere these tests are skipped."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, load


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


def test_a_checkpoint_that_does_not_fit_leaves_nothing_behind(small_disk, capsys):
    module = load("trpo")
    path = small_disk / "model.pt"
    with pytest.raises(SystemExit) as exit:  # 4 MB of weights on a 2 MiB disk
        module.save_checkpoint({"weights": torch.zeros(1_000_000)}, str(path))
    assert exit.value.code == 1 and list(small_disk.iterdir()) == []
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: cannot save the model to {path}: No space left on device"


# 30 kB: room for a little video, not for five episodes of it; 0: not even for the eval log, whose
# writer thread fails too.
@pytest.mark.parametrize("leave", [30_000, 0])
def test_filming_onto_a_full_disk_keeps_the_returns_and_says_so(leave, small_disk, tmp_path):
    """The returns of the episodes run are printed and logged where they fit; no video cut short is
    left behind, and the run ends in one sentence, no traceback."""
    disk = small_disk
    trained = tmp_path / "trained"
    trained.mkdir()
    tiny = ["--total-timesteps", "1024", "--num-steps", "512", "--num-minibatches", "4"]
    assert train("ppo_m", *tiny, cwd=trained, tmp=tmp_path).returncode == 0
    (checkpoint,) = trained.glob("runs/*/ppo_m.pt")
    (disk / "ppo_m.pt").write_bytes(checkpoint.read_bytes())
    fill(disk, leave=leave)
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
