"""A learning curve that must rise: PPO on InvertedPendulum-v5, a fast MuJoCo task, three seeds."""

import numpy as np
import pytest
from conftest import PRESENT, read_scalars, run_dirs, run_script

# 32 iterations of 512 steps (16k steps): the released PPO settings otherwise. A random policy
# balances the pole for about 5-20 steps; in our runs each seed reached the maximum return,
# 1000, by step ~12k.
BUDGET = ["--env-id", "InvertedPendulum-v5", "--total-timesteps", "16384", "--num-steps", "512"]
BUDGET += ["--num-minibatches", "8"]


@pytest.mark.skipif("ppo_continuous" not in PRESENT, reason="ppo_continuous.py is missing")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ppo_learns_inverted_pendulum(seed, tmp_path):
    result = run_script("ppo_continuous", *BUDGET, "--seed", str(seed), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    episodes = read_scalars(run_dirs(tmp_path)[0])["charts/episodic_return"]
    first = [value for step, value in episodes if step <= 512]
    last = [value for step, value in episodes if step > 12288]  # the last quarter of the run
    assert np.mean(first) < 50
    assert np.mean(last) > 500, (
        f"seed {seed}: mean return {np.mean(last):.0f} over the last quarter"
    )
