"""evaluate.py --capture-video: each episode becomes an MP4 with one frame per step (plus the
reset), a machine with no OpenGL backend hears so in one sentence before anything runs, the
committed checkpoints evaluate, and filmstrip.py draws them."""

import math
import os
import re
import subprocess
import sys
import time

import gymnasium as gym
import imageio_ffmpeg
import matplotlib.pyplot as plt
import pytest
import torch
from conftest import ROOT, TINY, load, run_dirs, run_script

CHECKPOINTS = sorted((ROOT / "benchmark_results" / "checkpoints").glob("*.pt"))
TRAIN = ["--env-id", "InvertedPendulum-v5", "--save-model"]
FILM = ["--capture-video", "--episodes", "2"]


def render_check():
    """The sentence check_rendering gives on this machine, or None if it can render."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import evaluate; "
    code += "evaluate.check_rendering('InvertedPendulum-v5')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
    )
    return None if result.returncode == 0 else result.stderr.strip()


NO_RENDERING = render_check()
needs_rendering = pytest.mark.skipif(
    NO_RENDERING is not None, reason=f"no OpenGL backend here: {NO_RENDERING}"
)


def without_display(**extra):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL")
    }
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny InvertedPendulum-v5 checkpoint of ppo_m.py (filming is the same for every variant)."""
    cwd = tmp_path_factory.mktemp("pendulum")
    assert run_script("ppo_m", *TINY, *TRAIN, cwd=cwd).returncode == 0
    (run_dir,) = run_dirs(cwd)
    return run_dir / "ppo_m.pt"


@needs_rendering
def test_each_episode_is_filmed_frame_by_frame_under_names_of_its_own(
    trained, tmp_path, monkeypatch
):
    result = run_script("evaluate", str(trained), *FILM, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    videos = re.findall(r"^video: (.+)$", result.stdout, re.M)
    pattern = rf"{trained.parent}/videos/ppo_m__eval__\d+-episode-{{}}\.mp4"
    assert len(videos) == 2 and all(
        re.fullmatch(pattern.format(i), v) for i, v in enumerate(videos)
    )
    # The same two deterministic episodes again, without a camera, counting their steps.
    evaluate = load("evaluate")
    lengths = []
    make = evaluate.gym.make

    class CountSteps(gym.Wrapper):
        def reset(self, **kwargs):
            lengths.append(0)
            return self.env.reset(**kwargs)

        def step(self, action):
            lengths[-1] += 1
            return self.env.step(action)

    monkeypatch.setattr(
        evaluate.gym, "make", lambda *args, **kwargs: CountSteps(make(*args, **kwargs))
    )
    evaluate.evaluate(*evaluate.load_checkpoint(str(trained)), 2, seed=1)
    assert len(lengths) == 3 and lengths[2] == 0  # two episodes, and the reset after the last one
    for video, steps in zip(videos, lengths, strict=False):
        frames, _ = imageio_ffmpeg.count_frames_and_secs(video)
        # The reset, then one frame per step; moviepy 2.2.1 loses the last frame of some clips (it
        # times frames in floating point: 13 frames at 25 fps come out as 12): one fewer is allowed.
        assert frames in (steps + 1, steps), (frames, steps)
    # A second evaluation films under names of its own, next to the first one's.
    time.sleep(1)  # the names are made by the second
    assert run_script("evaluate", str(trained), *FILM, cwd=tmp_path).returncode == 0
    assert len(os.listdir(trained.parent / "videos")) == 2 + 2


@pytest.mark.parametrize(
    "machine",
    [
        {"MUJOCO_GL": "glfw"},  # what gymnasium picks by itself: it needs a display
        {
            "__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent"
        },  # EGL with no driver, as without libgl1-mesa-dri
    ],
    ids=["glfw", "egl-without-driver"],
)
def test_capture_video_without_a_backend_is_one_sentence_before_any_episode(
    trained, machine, tmp_path
):
    result = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), str(trained), *FILM],
        cwd=tmp_path,
        env=without_display(**machine),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --capture-video cannot render"), (
        result.stderr
    )
    assert "install libegl1 and libgl1-mesa-dri" in lines[0]
    assert "eval:" not in result.stdout  # nothing was run


@pytest.mark.skipif(
    not CHECKPOINTS, reason="no committed checkpoints in benchmark_results/checkpoints yet"
)
@pytest.mark.parametrize("path", CHECKPOINTS, ids=[p.stem for p in CHECKPOINTS])
def test_committed_checkpoints_load_and_evaluate(path):
    """Written before checkpoints named their script: evaluate.py knows them by their options."""
    env_id, variant, seed = path.stem.split("__")  # ENV__VARIANT__SEED.pt
    evaluate = load("evaluate")
    module, checkpoint, args = evaluate.load_checkpoint(str(path))
    assert module.__name__ == ("ppo_continuous" if variant == "ppo_noclip" else variant)
    assert args.env_id == env_id and args.seed == int(seed)
    (episodic_return,) = evaluate.evaluate(module, checkpoint, args, 1, seed=1)
    assert math.isfinite(episodic_return)
    # Small files: the two 64-64 MLPs and the observation statistics, and little else (pickling).
    tensors = [
        *checkpoint["actor"].values(),
        *checkpoint["critic"].values(),
        *checkpoint["obs_rms"].values(),
    ]
    payload = sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))
    assert path.stat().st_size < payload + 20_000


@needs_rendering
def test_filmstrip_has_a_row_per_checkpoint_and_one_untrained(tmp_path):
    assert run_script("ppo_m", *TINY, "--save-model", cwd=tmp_path).returncode == 0
    (run_dir,) = run_dirs(tmp_path)
    (tmp_path / "Hopper-v5__ppo_m__1.pt").write_bytes((run_dir / "ppo_m.pt").read_bytes())
    command = [
        sys.executable,
        str(ROOT / "filmstrip.py"),
        "Hopper-v5__ppo_m__1.pt",
        "--out",
        "strip.png",
    ]
    result = subprocess.run(
        [*command, "--frames", "3", "--every", "5"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # 2 frames after the first, 5 steps apart.
    summary = r"(return -?\d+ in 10 steps|fell at step \d+, return -?\d+)"
    assert re.search(rf"^Hopper-v5__ppo_m__1: {summary}$", result.stdout, re.M), result.stdout
    height, width, _ = plt.imread(tmp_path / "strip.png").shape
    assert (height, width) == (
        2 * 150,
        3 * 150 + 100,
    )  # 2 rows (untrained, trained) of 3 frames, 1.5 inch each


@pytest.mark.parametrize("args", [[], ["nowhere.pt"]], ids=["no checkpoint", "missing checkpoint"])
def test_filmstrip_without_a_checkpoint_is_one_sentence(args, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "filmstrip.py"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
