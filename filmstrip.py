"""A strip of frames of trained policies, with an untrained one above them, for the README.

Each checkpoint is loaded by its own script (the variant named in its file name, as benchmark_results/checkpoints/
names them: ENV__VARIANT__SEED.pt), and its deterministic (mean) policy runs one episode from the same reset,
rendered with the scripts' own cheap settings (make_filmed_env). The first row is the first checkpoint's policy
network freshly initialized (same seed, same observation statistics): what training starts from. A row whose
episode ended early shows its last frame from then on.

Run: python filmstrip.py benchmark_results/checkpoints/Hopper-v4__*__1.pt
"""

import importlib.util
import pathlib
import sys
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import tyro

ROOT = pathlib.Path(__file__).resolve().parent
VARIANTS = ["ppo_m", "ppo_continuous", "trpo", "trpo_plus"]


@dataclass
class Args:
    checkpoints: tyro.conf.Positional[list[str]]
    """the checkpoints to film, one row each, named ENV__VARIANT__SEED.pt"""
    out: str = "benchmark_results/filmstrip.png"
    """the PNG to write"""
    frames: int = 8
    """frames per row"""
    every: int = 40
    """environment steps between two frames"""
    seed: int = 1
    """seed of the episode's reset, and of the untrained network's init"""


def load_variant(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def film(module, checkpoint: dict, actor, frames: int, every: int, seed: int) -> tuple[list[np.ndarray], str]:
    """Frames at steps 0, every, 2 * every, ... of one deterministic episode, and what it did meanwhile."""
    args = module.Args(**checkpoint["args"])
    env = module.make_filmed_env(args.env_id)
    obs_rms = module.RunningMeanStd(env.observation_space.shape)
    obs_rms.count = checkpoint["obs_rms"]["count"]
    obs_rms.mean = checkpoint["obs_rms"]["mean"].numpy()
    obs_rms.m2 = checkpoint["obs_rms"]["m2"].numpy()
    obs, _ = env.reset(seed=seed)
    images, episode_return, done, step = [env.render()], 0.0, False, 0
    while len(images) < frames:
        for _ in range(every):
            if done:
                break
            with torch.no_grad():
                action = actor.mean(torch.from_numpy(module.normalize_obs(obs, obs_rms, args))).numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            step += 1
            done = terminated or truncated
        images.append(env.render())  # after a fall, the fallen body again
    env.close()
    if done:
        return images, f"fell at step {step}, return {episode_return:.0f}"
    return images, f"return {episode_return:.0f} in {step} steps"


if __name__ == "__main__":
    args = tyro.cli(Args)
    rows = []  # (label, frames)
    for i, path in enumerate(args.checkpoints):
        name = pathlib.Path(path).stem
        variant = next((v for v in VARIANTS if v in name.split("__")), None)
        if variant is None:
            sys.exit(f"error: {path} names none of the variants {VARIANTS} (ENV__VARIANT__SEED.pt)")
        module = load_variant(variant)
        if i == 0:
            module.check_rendering(module.load_checkpoint(path)["args"]["env_id"])
        checkpoint = module.load_checkpoint(path)
        saved = module.Args(**checkpoint["args"])
        env_id = saved.env_id
        obs_dim, act_dim = checkpoint["obs_rms"]["mean"].shape[0], checkpoint["actor"]["logstd"].shape[0]
        if i == 0:
            torch.manual_seed(args.seed)
            untrained = module.Actor(obs_dim, act_dim, saved)
            images, summary = film(module, checkpoint, untrained, args.frames, args.every, args.seed)
            rows.append((f"untrained\n{summary}", images))
        actor = module.Actor(obs_dim, act_dim, saved)
        actor.load_state_dict(checkpoint["actor"])
        images, summary = film(module, checkpoint, actor, args.frames, args.every, args.seed)
        rows.append((f"{variant}\n{summary}", images))
        print(f"{name}: {summary}")

    fig, axes = plt.subplots(len(rows), args.frames, figsize=(1.5 * args.frames + 1, 1.5 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(image)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(f"step {c * args.every}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"{env_id}: the deterministic policy from the same reset", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"filmstrip written to {args.out}")
