"""Training throughput of the variant scripts against plain stepping of the same environment.

Each repeat times, one after the other on the same core: plain `gym.make(env_id)` stepping with random
actions, then a short training run of each variant (its own `SPS`, which excludes start-up). Medians over
the repeats and their ratios are printed; interleaving the measurements keeps a noisy, shared machine from
favouring one side.

Run: OMP_NUM_THREADS=1 python throughput.py --env-id Hopper-v5 --repeats 3
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import tyro

ROOT = pathlib.Path(__file__).resolve().parent


@dataclass
class Args:
    env_id: str = "Hopper-v5"
    """the environment to step and to train on"""
    variants: list[str] = field(default_factory=lambda: ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"])
    """the scripts to measure (those present)"""
    steps: int = 20480
    """environment steps per measurement (10 iterations of 2048 for the training runs)"""
    repeats: int = 3
    """measurements of each side; the medians are compared"""


def plain_sps(env_id: str, steps: int, seed: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def training_sps(variant: str, env_id: str, steps: int, seed: int) -> float:
    with tempfile.TemporaryDirectory() as cwd:
        result = subprocess.run(
            [sys.executable, str(ROOT / f"{variant}.py"), "--env-id", env_id, "--total-timesteps", str(steps)]
            + ["--seed", str(seed)],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if result.returncode != 0:
        sys.exit(f"error: {variant}.py failed: {result.stderr.strip().splitlines()[-1]}")
    return float(re.findall(r"SPS (\d+)", result.stdout)[-1])


if __name__ == "__main__":
    args = tyro.cli(Args)
    variants = [v for v in args.variants if (ROOT / f"{v}.py").exists()]
    results = {name: [] for name in ["plain", *variants]}
    for repeat in range(args.repeats):
        results["plain"].append(plain_sps(args.env_id, args.steps, seed=repeat))
        for variant in variants:
            results[variant].append(training_sps(variant, args.env_id, args.steps, seed=repeat + 1))
        print(f"repeat {repeat + 1}/{args.repeats}: " + "  ".join(f"{k} {v[-1]:.0f}" for k, v in results.items()))
    plain = np.median(results["plain"])
    print(f"\n{args.env_id}, {args.steps} steps, median of {args.repeats} (steps per second, one core):")
    print(f"  plain env stepping, random actions: {plain:.0f}")
    for variant in variants:
        sps = np.median(results[variant])
        print(f"  {variant:<15} {sps:6.0f}   ratio to plain stepping {sps / plain:.2f}")
