"""A strip of frames of trained policies, with an untrained one above them, for the README.

Each checkpoint is loaded as evaluate.py loads it (by the script that wrote it), and its
deterministic (mean) policy runs one episode from the same reset, rendered with evaluate.py's cheap
settings (make_filmed_env). The first row is the first checkpoint's policy network freshly
initialized (same seed, same observation statistics): what training starts from. A row whose episode
ended early shows its last frame from then on.

Run: python filmstrip.py benchmark_results/checkpoints/Hopper-v4__*__1.pt
"""

import pathlib
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import tyro

import evaluate


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


def film(module, args, obs_rms, actor, frames: int, every: int, seed: int):
    """Frames at steps 0, every, 2 * every, ... of one deterministic episode, and what it did."""
    env = evaluate.make_filmed_env(args.env_id)
    obs, _ = env.reset(seed=seed)
    images, episode_return, done, step = [env.render()], 0.0, False, 0
    while len(images) < frames:
        for _ in range(every):
            if done:
                break
            with torch.no_grad():
                action = actor.mean(
                    torch.from_numpy(module.normalize_obs(obs, obs_rms, args))
                ).numpy()
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
    if not args.checkpoints:
        evaluate.fail(
            "name the checkpoints to film, e.g. benchmark_results/checkpoints/Hopper-v4__*__1.pt"
        )
    rows = []  # (label, frames)
    for i, path in enumerate(args.checkpoints):
        module, checkpoint, saved = evaluate.load_checkpoint(path)
        env_id = saved.env_id
        if i == 0:
            evaluate.check_rendering(env_id)
        obs_dim, act_dim = (
            checkpoint["obs_rms"]["mean"].shape[0],
            checkpoint["actor"]["logstd"].shape[0],
        )
        actor, obs_rms = evaluate.rebuild_policy(module, checkpoint, saved, obs_dim, act_dim)
        if i == 0:
            torch.manual_seed(args.seed)
            untrained = module.Actor(obs_dim, act_dim, saved)
            images, summary = film(
                module, saved, obs_rms, untrained, args.frames, args.every, args.seed
            )
            rows.append((f"untrained\n{summary}", images))
        images, summary = film(module, saved, obs_rms, actor, args.frames, args.every, args.seed)
        # The label: the variant of an ENV__VARIANT__SEED.pt name (ppo_noclip, say), or the script.
        parts = pathlib.Path(path).stem.split("__")
        rows.append((f"{parts[1] if len(parts) == 3 else module.__name__}\n{summary}", images))
        print(f"{pathlib.Path(path).stem}: {summary}")

    fig, axes = plt.subplots(
        len(rows), args.frames, figsize=(1.5 * args.frames + 1, 1.5 * len(rows)), squeeze=False
    )
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
