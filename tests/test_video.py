"""--capture-video: each evaluation episode becomes an MP4 with one frame per step (plus the reset), a machine
with no OpenGL backend hears so in one sentence before anything starts, and the committed checkpoints evaluate."""

import math
import os
import re
import subprocess
import sys

import gymnasium as gym
import imageio_ffmpeg
import matplotlib.pyplot as plt
import pytest
import torch
from conftest import ROOT, TINY, load, run_dirs, run_script

CHECKPOINTS = sorted((ROOT / "benchmark_results" / "checkpoints").glob("*.pt"))
FILM = ["--env-id", "InvertedPendulum-v5", "--save-model", "--capture-video", "--eval-episodes", "2"]


def render_check():
    """The sentence check_rendering gives on this machine, or None if it can render."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import ppo_m; ppo_m.check_rendering('InvertedPendulum-v5')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    return None if result.returncode == 0 else result.stderr.strip()


NO_RENDERING = render_check()
needs_rendering = pytest.mark.skipif(NO_RENDERING is not None, reason=f"no OpenGL backend here: {NO_RENDERING}")


def without_display(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL")}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


@needs_rendering
def test_each_evaluation_episode_is_filmed_frame_by_frame(variant, tmp_path, monkeypatch):
    result = run_script(variant, *TINY, *FILM, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_dirs(tmp_path)
    videos = re.findall(r"^video: (.+)$", result.stdout, re.M)
    assert videos == [f"{run_dir.relative_to(tmp_path)}/videos/{variant}-episode-{i}.mp4" for i in range(2)]
    # The same two deterministic episodes again, without a camera, counting their steps.
    module = load(variant)
    lengths = []
    make = module.gym.make

    class CountSteps(gym.Wrapper):
        def reset(self, **kwargs):
            lengths.append(0)
            return self.env.reset(**kwargs)

        def step(self, action):
            lengths[-1] += 1
            return self.env.step(action)

    monkeypatch.setattr(module.gym, "make", lambda *args, **kwargs: CountSteps(make(*args, **kwargs)))
    module.evaluate(module.load_checkpoint(str(run_dir / f"{variant}.pt")), 2, seed=1)
    assert len(lengths) == 3 and lengths[2] == 0  # two episodes, and the reset after the last one
    for video, steps in zip(videos, lengths, strict=False):
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / video))
        # The reset, then one frame per step; moviepy 2.2.1 loses the last frame of some clips (it times frames
        # in floating point: 13 frames at 25 fps come out as 12), so one frame fewer is allowed.
        assert frames in (steps + 1, steps), (frames, steps)


@needs_rendering
def test_eval_checkpoint_films_under_names_of_its_own(tmp_path):
    assert run_script("ppo_m", *TINY, *FILM, cwd=tmp_path).returncode == 0
    (run_dir,) = run_dirs(tmp_path)
    result = run_script("ppo_m", "--eval-checkpoint", str(run_dir / "ppo_m.pt"), "--capture-video", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    videos = re.findall(r"^video: (.+)$", result.stdout, re.M)
    assert len(videos) == 10 and all(os.path.isfile(v) for v in videos)
    assert all(re.fullmatch(rf"{run_dir}/videos/ppo_m__eval__\d+-episode-\d\.mp4", v) for v in videos)
    assert len(os.listdir(run_dir / "videos")) == 2 + 10  # the training run's two are still there


@pytest.mark.parametrize(
    "machine",
    [
        {"MUJOCO_GL": "glfw"},  # what gymnasium picks by itself: it needs a display
        {"__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent"},  # EGL with no driver, as without libgl1-mesa-dri
    ],
    ids=["glfw", "egl-without-driver"],
)
def test_capture_video_without_a_backend_is_one_sentence_before_training(variant, machine, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / f"{variant}.py"), *TINY, *FILM],
        cwd=tmp_path,
        env=without_display(**machine),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --capture-video cannot render"), result.stderr
    assert "install libegl1 and libgl1-mesa-dri" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was trained


@pytest.mark.skipif(not CHECKPOINTS, reason="no committed checkpoints in benchmark_results/checkpoints yet")
@pytest.mark.parametrize("path", CHECKPOINTS, ids=[p.stem for p in CHECKPOINTS])
def test_committed_checkpoints_load_and_evaluate(path):
    env_id, variant, seed = path.stem.split("__")  # ENV__VARIANT__SEED.pt
    module = load("ppo_continuous" if variant == "ppo_noclip" else variant)  # PPO-NoClip is ppo_continuous.py
    checkpoint = module.load_checkpoint(str(path))
    assert checkpoint["args"]["env_id"] == env_id and checkpoint["args"]["seed"] == int(seed)
    (episodic_return,) = module.evaluate(checkpoint, 1, seed=1)
    assert math.isfinite(episodic_return)
    # Small files: the two 64-64 MLPs and the observation statistics, and little else (pickling overhead).
    tensors = [*checkpoint["actor"].values(), *checkpoint["critic"].values(), *checkpoint["obs_rms"].values()]
    payload = sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))
    assert path.stat().st_size < payload + 20_000


@needs_rendering
def test_filmstrip_has_a_row_per_checkpoint_and_one_untrained(tmp_path):
    assert run_script("ppo_m", *TINY, "--save-model", "--eval-episodes", "1", cwd=tmp_path).returncode == 0
    (run_dir,) = run_dirs(tmp_path)
    (tmp_path / "Hopper-v5__ppo_m__1.pt").write_bytes((run_dir / "ppo_m.pt").read_bytes())
    command = [sys.executable, str(ROOT / "filmstrip.py"), "Hopper-v5__ppo_m__1.pt", "--out", "strip.png"]
    result = subprocess.run([*command, "--frames", "3", "--every", "5"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = r"(return -?\d+ in 10 steps|fell at step \d+, return -?\d+)"  # 2 frames after the first, 5 steps apart
    assert re.search(rf"^Hopper-v5__ppo_m__1: {summary}$", result.stdout, re.M), result.stdout
    height, width, _ = plt.imread(tmp_path / "strip.png").shape
    assert (height, width) == (2 * 150, 3 * 150 + 100)  # 2 rows (untrained, trained) of 3 frames, 1.5 inch each
