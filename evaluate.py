"""Evaluates a checkpoint of any of the four scripts: its deterministic (mean) policy.

The policy and its observation pipeline are rebuilt by the script that trained them, imported as a
module (the scripts train only when run), so each variant's Actor and normalize_obs stay defined in
one place. The observation statistics are the checkpoint's, frozen: the policy sees the inputs it
was trained on. The returns are the environment's raw rewards, logged to TensorBoard in a folder
of their own next to the checkpoint; with --capture-video each episode is also filmed to an MP4.

Run:  python evaluate.py runs/Hopper-v5__ppo_m__1__1764547200/ppo_m.pt --episodes 10
      python evaluate.py benchmark_results/checkpoints/Hopper-v4__ppo_m__1.pt --capture-video
"""

import importlib.util
import os
import pathlib
import shutil
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, fields

import gymnasium as gym
import numpy as np
import torch
import tyro
from torch.utils.tensorboard import SummaryWriter

ROOT = pathlib.Path(__file__).resolve().parent
SCRIPTS = ["ppo_m.py", "ppo_continuous.py", "trpo.py", "trpo_plus.py"]
# Options the scripts had when the committed checkpoints were written, and have no longer.
RETIRED_OPTIONS = {
    "eval_episodes",
    "eval_checkpoint",
    "capture_video",
    "torch_deterministic",
    "num_envs",
}


@dataclass
class Args:
    checkpoint: tyro.conf.Positional[str]
    """a checkpoint written by ppo_m.py, ppo_continuous.py, trpo.py or trpo_plus.py"""
    episodes: int = 10
    """episodes to run"""
    seed: int = 1
    """seed of the first episode's reset (the policy is deterministic)"""
    capture_video: bool = False
    """film each episode (MP4s in videos/ next to the checkpoint); needs OpenGL (EGL, no display)"""


def fail(message: str, code: int = 2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def load_script(script: str):
    """The training script as a module: its Args, Actor, RunningMeanStd and normalize_obs."""
    spec = importlib.util.spec_from_file_location(script[: -len(".py")], ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_checkpoint(path: str):
    """(the script's module, the checkpoint, the saved Args), or one sentence on what is wrong."""
    if not os.path.isfile(path):
        fail(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception as e:  # a truncated file, or not torch's format at all
        fail(f"{path} is not a checkpoint: truncated or foreign ({type(e).__name__})")
    saved = checkpoint.get("args") if isinstance(checkpoint, dict) else None
    if not (isinstance(saved, dict) and "env_id" in saved and "actor" in checkpoint):
        fail(
            f"{path} holds a {type(checkpoint).__name__}, not a checkpoint written by --save-model"
        )
    # Checkpoints name their script; the older ones are recognised by their options.
    script = checkpoint.get("script")
    if script is None:  # TRPO has a KL bound, PPO none; the full variants have the switches
        minimal, full = (
            ("trpo.py", "trpo_plus.py") if "max_kl" in saved else ("ppo_m.py", "ppo_continuous.py")
        )
        script = full if "clip_vloss" in saved else minimal
    if script not in SCRIPTS:
        fail(f"{path} was written by {script}, which is none of {', '.join(SCRIPTS)}")
    module = load_script(script)
    names = {f.name for f in fields(module.Args)}
    if not names <= set(saved) or not set(saved) - names <= RETIRED_OPTIONS:
        fail(f"{path} does not hold a checkpoint of {script}: its options differ from the script's")
    args = module.Args(**{name: value for name, value in saved.items() if name in names})
    return module, checkpoint, args


def make_filmed_env(env_id: str) -> gym.Env:
    """An environment that renders RGB frames, with no display too, cheaply enough to film a
    1000-step episode in well under a minute."""
    # With no display, gymnasium picks GLFW and fail at the first frame; EGL renders off screen.
    # gymnasium reads MUJOCO_GL when it makes its first renderer, so setting it here is in time.
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if "MUJOCO_GL" not in os.environ and sys.platform.startswith("linux") and no_display:
        os.environ["MUJOCO_GL"] = "egl"
    env = gym.make(env_id, render_mode="rgb_array")
    if hasattr(env.unwrapped, "mujoco_renderer"):  # a MuJoCo environment
        model = env.unwrapped.model
        # MuJoCo's default 4096-pixel shadow map and multisampling make a frame 3-4x slower, for no
        # visible gain.
        model.vis.quality.shadowsize = 1024
        model.vis.quality.offsamples = 0
        # gymnasium 1.4 films locomotion from a free camera that the body soon walks out of; the
        # model's own "track" camera (Hopper, Walker2d, HalfCheetah, Ant, Humanoid) follows it.
        if "track" in [model.camera(i).name for i in range(model.ncam)]:
            env.unwrapped.mujoco_renderer.camera_id = model.camera("track").id
    return env


def check_rendering(env_id: str):
    """Renders one frame before any episode runs, so that a machine where no OpenGL backend can
    start says so at once, in one sentence."""
    if importlib.util.find_spec("moviepy") is None:
        fail("--capture-video needs moviepy to write MP4s: pip install -r requirements.txt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # GLFW's own complaints; the sentence below says what to do
            env = make_filmed_env(env_id)
            env.reset(seed=0)
            env.render()
            env.close()
    except gym.error.Error as e:
        fail(f"cannot make environment {env_id!r}: {e}")
    except Exception as e:
        sys.unraisablehook = lambda unraisable: None  # the half-made renderer's complaints
        fail(
            f"--capture-video cannot render {env_id} (MUJOCO_GL={os.environ.get('MUJOCO_GL')}, "
            f"{type(e).__name__}): with no display, install libegl1 and libgl1-mesa-dri and leave "
            "MUJOCO_GL unset or set it to egl"
        )


def rebuild_policy(module, checkpoint: dict, args, obs_dim: int, act_dim: int):
    """(actor, obs_rms): the trained policy and its frozen observation statistics."""
    actor = module.Actor(obs_dim, act_dim, args)
    actor.load_state_dict(checkpoint["actor"])
    obs_rms = module.RunningMeanStd((obs_dim,))
    obs_rms.count = checkpoint["obs_rms"]["count"]
    obs_rms.mean = checkpoint["obs_rms"]["mean"].numpy()
    obs_rms.m2 = checkpoint["obs_rms"]["m2"].numpy()
    return actor, obs_rms


class VideoError(Exception):
    """A video could not be written (a full disk, say); it carries the returns of the episodes."""

    def __init__(self, returns: list[float], reason: str):
        super().__init__(reason)
        self.returns, self.reason = returns, reason


def evaluate(module, checkpoint: dict, args, episodes: int, seed: int, video_prefix=None):
    """Raw episodic returns of the deterministic (mean) policy. With video_prefix, episode i is
    filmed to {video_prefix}-episode-{i}.mp4. Ctrl-C stops it: the list then holds the finished
    episodes. A failed video write raises VideoError, with the returns so far."""
    if video_prefix is None:
        env = gym.make(args.env_id)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overwriting existing videos": each run names its own
            env = gym.wrappers.RecordVideo(
                make_filmed_env(args.env_id),
                os.path.dirname(video_prefix),
                episode_trigger=lambda episode: episode < episodes,  # not the reset after the last
                name_prefix=os.path.basename(video_prefix),
            )
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    actor, obs_rms = rebuild_policy(module, checkpoint, args, obs_dim, act_dim)
    returns, episode_return, failure = [], 0.0, None
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: KeyboardInterrupt
    try:
        obs, _ = env.reset(seed=seed)
        while len(returns) < episodes:
            with torch.no_grad():
                normalized = torch.from_numpy(module.normalize_obs(obs, obs_rms, args))
                action = actor.mean(normalized).numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            if terminated or truncated:
                returns.append(episode_return)
                episode_return = 0.0
                obs, _ = env.reset()
    except KeyboardInterrupt:
        pass  # stop, and keep the episodes that finished
    except OSError as e:  # the pipe to the video encoder broke: it could not write
        failure = e
    finally:
        signal.signal(signal.SIGINT, previous)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the recorder's own complaint about a lost video
            try:
                env.close()  # writes the last video
            except OSError as e:
                failure = failure or e
    if failure is not None:
        raise VideoError(returns, failure.strerror or type(failure).__name__)
    return returns


def main(args: Args):
    if args.episodes <= 0:
        fail(f"--episodes must be positive, got {args.episodes}")
    module, checkpoint, saved = load_checkpoint(args.checkpoint)
    print(f"evaluating {args.checkpoint} ({module.__name__}.py) on {saved.env_id}, as trained")
    # Each evaluation gets names of its own next to the checkpoint, so that evaluations never mix.
    checkpoint_dir, checkpoint_name = os.path.split(os.path.abspath(args.checkpoint))
    eval_name = f"{os.path.splitext(checkpoint_name)[0]}__eval__{int(time.time())}"
    video_prefix = None
    if args.capture_video:
        check_rendering(saved.env_id)
        video_prefix = os.path.join(checkpoint_dir, "videos", eval_name)
        try:
            os.makedirs(os.path.dirname(video_prefix), exist_ok=True)
        except OSError as e:
            fail(f"cannot write videos next to the checkpoint ({e.strerror}); copy it elsewhere")
    try:
        returns, failure = (
            evaluate(module, checkpoint, saved, args.episodes, args.seed, video_prefix),
            None,
        )
    except (KeyError, RuntimeError) as e:
        fail(
            f"{args.checkpoint} does not hold weights of {module.__name__}.py ({type(e).__name__})"
        )
    except gym.error.Error as e:
        fail(f"cannot make the checkpoint's environment: {e}")
    except VideoError as e:  # the returns stand; the videos, maybe cut short, are removed
        returns, failure = e.returns, e.reason
        for video in pathlib.Path(video_prefix).parent.glob(f"{eval_name}-episode-*.mp4"):
            video.unlink()

    # The result first, before anything that could fail.
    line = f"eval: {len(returns)} episodes"
    if returns:
        line += f", return {np.mean(returns):.1f} +- {np.std(returns):.1f}"
    if len(returns) < args.episodes:
        line += f" (stopped by {'a failed video' if failure else 'Ctrl-C'}, of {args.episodes})"
    print(line, flush=True)
    for i in range(args.episodes + 1):  # the episode that Ctrl-C cut short is filmed too
        if video_prefix is not None and os.path.exists(f"{video_prefix}-episode-{i}.mp4"):
            print(f"video: {video_prefix}-episode-{i}.mp4")
    try:
        writer = SummaryWriter(os.path.join(checkpoint_dir, eval_name))
        for i, episodic_return in enumerate(returns):
            writer.add_scalar("eval/episodic_return", episodic_return, i)
        writer.close()
        print(f"eval scalars logged to {os.path.join(checkpoint_dir, eval_name)}")
    except OSError as e:
        print(f"note: the eval scalars were not logged: cannot write next to the checkpoint ({e})")
    if failure:
        folder = os.path.dirname(video_prefix)
        if shutil.disk_usage(folder).free < 2**20:
            failure = "the disk is full"
        fail(f"cannot write the videos in {folder} ({failure}); none of them was kept", code=1)
    sys.exit(0 if len(returns) == args.episodes else 130)


if __name__ == "__main__":
    torch.set_num_threads(1)
    # RecordVideo complains at exit about a video it could not write, and TensorBoard's writer
    # thread prints a traceback for a log it could not write (a full disk): main says each once.
    warnings.filterwarnings("ignore", message=".*Unable to save last video")
    threading.excepthook = lambda hook: (
        None if issubclass(hook.exc_type, OSError) else threading.__excepthook__(hook)
    )
    main(tyro.cli(Args))
