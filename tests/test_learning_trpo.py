"""A learning curve that must rise: TRPO+ on InvertedPendulum-v5, three seeds (PPO's is in
test_learning.py)."""

import numpy as np
import pytest
from conftest import PRESENT, read_scalars, run_dirs, run_script

# 24 iterations of 512 steps (12k steps), the released TRPO+ settings otherwise (a mean-KL bound
# of 0.04). A random policy balances the pole for about 5-20 steps; in our runs every seed of 1-5
# first held it for the whole 1000 steps by step ~7k and stayed there.
BUDGET = ["--env-id", "InvertedPendulum-v5", "--total-timesteps", "12288", "--num-steps", "512"]
BUDGET += ["--num-minibatches", "8"]


@pytest.mark.skipif("trpo_plus" not in PRESENT, reason="trpo_plus.py is missing")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_trpo_plus_learns_inverted_pendulum(seed, tmp_path):
    result = run_script("trpo_plus", *BUDGET, "--seed", str(seed), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    scalars = read_scalars(run_dirs(tmp_path)[0])
    episodes = scalars["charts/episodic_return"]
    first = [value for step, value in episodes if step <= 512]
    last = [value for step, value in episodes if step > 9216]  # the last quarter of the run
    assert np.mean(first) < 50
    assert np.mean(last) > 500, (
        f"seed {seed}: mean return {np.mean(last):.0f} over the last quarter"
    )
    # Every step it took stayed within the trust region it was given.
    assert max(kl for _, kl in scalars["trpo/kl_after_step"]) <= 0.04
