"""Training throughput of the variant scripts against plain stepping of the same environment.

Each repeat measures, one after the other: plain `gym.make(env_id)` stepping with random actions,
then each variant's marginal cost per step, the difference between a long and a short training run
(so start-up, imports and the first iteration's set-up cancel out). Costs are CPU seconds of the
process, not wall time: on a shared machine another process slows the wall clock of both sides
unevenly, but hardly the CPU time each side needs. Medians over the repeats and their ratios are
printed.

Run: OMP_NUM_THREADS=1 python throughput.py --env-id Hopper-v5 --repeats 3
"""

import os
import pathlib
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
    variants: list[str] = field(
        default_factory=lambda: ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"]
    )
    """the scripts to measure (those present)"""
    steps: int = 20480
    """steps of the long training run and of the plain stepping (10 iterations of 2048)"""
    short_steps: int = 2048
    """environment steps of the short training run whose cost is subtracted (one iteration)"""
    repeats: int = 3
    """measurements of each side; the medians are compared"""


def plain_cost(env_id: str, steps: int, seed: int) -> float:
    """CPU seconds per step of random-action stepping."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    start = time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return (time.process_time() - start) / steps


def training_cpu_seconds(variant: str, env_id: str, steps: int, seed: int) -> float:
    """CPU seconds (user + system) of a whole training run in a child process."""
    command = [
        sys.executable,
        str(ROOT / f"{variant}.py"),
        "--env-id",
        env_id,
        "--total-timesteps",
        str(steps),
    ]
    with tempfile.TemporaryDirectory() as cwd:
        child = subprocess.Popen(
            command + ["--seed", str(seed)],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        stderr = child.stderr.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(
            f"error: {variant}.py failed: "
            f"{stderr.strip().splitlines()[-1] if stderr.strip() else status}"
        )
    return usage.ru_utime + usage.ru_stime


def training_cost(variant: str, env_id: str, steps: int, short_steps: int, seed: int) -> float:
    """Marginal CPU seconds per training step: (long run - short run) / (steps - short_steps)."""
    long_run = training_cpu_seconds(variant, env_id, steps, seed)
    short_run = training_cpu_seconds(variant, env_id, short_steps, seed)
    return (long_run - short_run) / (steps - short_steps)


if __name__ == "__main__":
    args = tyro.cli(Args)
    if not 0 < args.short_steps < args.steps:
        sys.exit("error: --short-steps must be positive and less than --steps")
    variants = [v for v in args.variants if (ROOT / f"{v}.py").exists()]
    costs = {name: [] for name in ["plain", *variants]}
    for repeat in range(args.repeats):
        costs["plain"].append(plain_cost(args.env_id, args.steps, seed=repeat))
        for variant in variants:
            costs[variant].append(
                training_cost(variant, args.env_id, args.steps, args.short_steps, seed=repeat + 1)
            )
        print(
            f"repeat {repeat + 1}/{args.repeats}: "
            + "  ".join(f"{k} {1e6 * v[-1]:.0f}" for k, v in costs.items())
        )
    plain = np.median(costs["plain"])
    print(
        f"\n{args.env_id}, CPU microseconds per environment step, "
        f"median of {args.repeats} (one thread):"
    )
    print(f"  plain env stepping, random actions: {1e6 * plain:6.0f}")
    for variant in variants:
        cost = np.median(costs[variant])
        print(
            f"  {variant:<15} {1e6 * cost:6.0f}   {1 / cost:6.0f} steps/s   ratio to plain "
            f"{plain / cost:.2f}"
        )
