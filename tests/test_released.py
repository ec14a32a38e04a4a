"""reference/released/released.py: without the authors' code, its changes applied to a small
made-up tree shaped like theirs, the config read, and the record it writes read back by the report;
with their checkout (skipped without it), two short seeded runs that must write the same record."""

import importlib.util
import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location(
    "released", ROOT / "reference" / "released" / "released.py"
)
released = importlib.util.module_from_spec(spec)
spec.loader.exec_module(released)

# The lines of theirs that the changes touch, with a line around them, in the files they live in.
AGENT = "import torch\nimport gym\nfrom .models import *\n"
CUSTOM_ENV = """import numpy as np
from gym.spaces.discrete import Discrete
from gym.spaces.box import Box as Continuous
import gym

class Env:
    def __init__(self, game):
        self.env = gym.make(game)
        self.num_features = self.env.reset().shape[0]

    def reset(self):
        start_state = self.env.reset()
        return start_state

    def step(self, action):
        state, reward, is_done, info = self.env.step(action)
        return state, reward, is_done, info
"""
PARAMS = """import os
PARAMS = {
    "game": ["Hopper-v2"],
    "mode": ["trpo"],
    "max_kl": [0.13] * 40,
    "val_lr": [2e-4],
}
all_configs = make_configs(PARAMS)  # what running a config would do: never run here
"""


def made_up_tree(tmp_path):
    src = tmp_path / "src"
    (src / "policy_gradients").mkdir(parents=True)
    (src / "cox" / "cox").mkdir(parents=True)
    (src / "policy_gradients" / "agent.py").write_text(AGENT)
    (src / "policy_gradients" / "custom_env.py").write_text(CUSTOM_ENV)
    (src / "MuJoCo.json").write_text(json.dumps({"game": "X", "t": 2048, "max_kl": 0.01}))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "hopper_trpo.py").write_text(PARAMS)
    return tmp_path


def test_changes_make_the_made_up_tree_speak_gymnasium(tmp_path):
    tree = made_up_tree(tmp_path)
    released.apply_changes(tree)
    env = (tree / "src" / "policy_gradients" / "custom_env.py").read_text()
    assert "import gymnasium as gym\n" in env and "\nimport gym\n" not in env
    assert "from gymnasium.spaces.discrete import Discrete" in env
    assert "from gymnasium.spaces.box import Box as Continuous" in env
    assert "self.num_features = self.env.reset()[0].shape[0]" in env
    assert "start_state, _ = self.env.reset()" in env
    assert (
        "state, reward, terminated, truncated, info = self.env.step(action)\n"
        "        is_done = terminated or truncated\n"
        "        return state, reward, is_done, info" in env
    )
    assert (tree / "src" / "policy_gradients" / "agent.py").read_text() == (
        "import torch\nimport gymnasium as gym\nfrom .models import *\n"
    )
    assert not (tree / "src" / "cox").exists()
    compile(env, "custom_env.py", "exec")  # still Python, indentation included


def test_changes_refuse_a_tree_they_do_not_fit_and_write_nothing(tmp_path):
    tree = made_up_tree(tmp_path)
    released.apply_changes(tree)
    patched = (tree / "src" / "policy_gradients" / "custom_env.py").read_text()
    with pytest.raises(released.Refused, match="occurs 0 times"):
        released.apply_changes(tree)  # a second time: already patched
    assert (tree / "src" / "policy_gradients" / "custom_env.py").read_text() == patched

    other = made_up_tree(tmp_path / "other")
    env = other / "src" / "policy_gradients" / "custom_env.py"
    env.write_text(CUSTOM_ENV.replace("start_state = self.env.reset()", "s = self.env.reset()"))
    with pytest.raises(released.Refused, match="start_state"):
        released.apply_changes(other)
    # Refused before any write: agent.py is as it was.
    assert (other / "src" / "policy_gradients" / "agent.py").read_text() == AGENT


def test_config_is_the_first_agent_over_the_base_config(tmp_path):
    params = released.config_params(made_up_tree(tmp_path), "hopper_trpo")
    assert params == {
        "game": "Hopper-v2",
        "t": 2048,
        "max_kl": 0.13,
        "mode": "trpo",
        "val_lr": 2e-4,
    }
    assert released.record_name("hopper_trpo", 3) == "Hopper-v4__trpo__3"
    assert released.record_name("hopper_ppom", 1) == "Hopper-v4__ppo_m__1"
    with pytest.raises(released.Refused):
        released.record_name("pong_ppo", 1)


def test_record_reads_back_through_the_report(tmp_path):
    report = pytest.importorskip("benchmark_report")
    params = {"mode": "ppo", "t": 2048, "train_steps": 3, "clip_eps": 0.2, "max_kl": 0.01}
    text = released.record_text(
        "hopper_ppo", 2, params, [15.98301, math.nan, 37.5764], [104, 0, 66], 1796500329
    )
    lines = text.splitlines()
    assert "5ee6ecb12545365d9178135e65576adfc0d82f52, configs/hopper_ppo.py, seed 2" in lines[0]
    assert lines[3:] == ["1,2048,15.983,104,,,,,,,", "2,4096,,,,,,,,,", "3,6144,37.5764,66,,,,,,,"]
    path = tmp_path / "Hopper-v4__ppo_continuous__2.csv"
    path.write_text(text)
    run = report.read_record(path)
    assert (run.env_id, run.exp_name, run.seed) == ("Hopper-v4", "ppo_continuous", 2)
    assert (run.batch_size, run.planned_iterations, run.clip_coef, run.max_kl) == (
        2048,
        3,
        0.2,
        None,
    )
    returns = run.columns["mean_return"]
    assert list(returns[[0, 2]]) == [15.983, 37.5764] and math.isnan(returns[1])
    assert list(run.columns["episodes"][[0, 2]]) == [104, 66]


CHECKOUT = Path(os.environ.get("RELEASED_CHECKOUT", ROOT.parent / "implementation-matters"))
VENV = ROOT / "reference" / "released" / ".venv"
PYTHON = Path(os.environ.get("RELEASED_PYTHON", VENV / "bin" / "python"))


@pytest.mark.skipif(
    not (CHECKOUT / ".git").exists() or not PYTHON.exists(),
    reason=f"needs the authors' checkout, patched, at {CHECKOUT} (or RELEASED_CHECKOUT) and "
    f"the tool's virtual environment at {PYTHON} (or RELEASED_PYTHON): the set-up in "
    "reference/released/README.md",
)
def test_released_run_is_seeded_and_writes_its_record(tmp_path):
    # Two short runs of one config and seed, side by side: one record but for the start time.
    tool = ROOT / "reference" / "released" / "released.py"
    command = [PYTHON, tool, "run", CHECKOUT, "hopper_trpo", "--seed", "3", "--iterations", "2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = [
        subprocess.Popen([*command, "--records", tmp_path / k], env=env, stdout=subprocess.DEVNULL)
        for k in "ab"
    ]
    assert [p.wait(timeout=600) for p in runs] == [0, 0]
    a, b = [(tmp_path / k / "Hopper-v4__trpo__3.csv").read_text().splitlines() for k in "ab"]
    assert "5ee6ecb12545365d9178135e65576adfc0d82f52, configs/hopper_trpo.py, seed 3" in a[0]
    assert a[2:] == b[2:] and len(a) == 5
    for i, line in enumerate(a[3:], start=1):
        iteration, steps, mean_return, episodes = line.split(",")[:4]
        assert (int(iteration), int(steps)) == (i, 2048 * i)
        # A random Hopper falls many times in 2048 steps: episodes end, and their mean is logged.
        assert math.isfinite(float(mean_return)) and int(episodes) > 0
