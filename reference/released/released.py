"""The authors' released code (MadryLab/implementation-matters) on today's simulator, as a record.

Two commands, run with the released code's own virtual environment (requirements.txt beside this
file, never the project's):

    released.py patch CHECKOUT
        makes a checkout of the released code at RELEASED_COMMIT run on gymnasium 1.4 / mujoco 3:
        the few lines of CHANGES (gym -> gymnasium, the new reset and step return values), and the
        vendored copy of cox removed so that cox 0.2 from the package index is used (the vendored
        one appends to its HDF tables in a way pandas 3 rejects). Each change names a short pattern
        of their line and must match exactly once, or nothing is written.

    released.py run CHECKOUT CONFIG --seed N --records DIR
        runs the first agent of configs/CONFIG.py (the released configs list 40 identical agents)
        on the -v4 model of its environment, seeded, through `run.main(params)` as the authors' own
        run_agents.py launches it, and writes DIR/{env_id}__{variant}__{seed}.csv in the format of
        the project's records (benchmark_report.py reads it).

The released code never seeds anything; here python's `random`, numpy and torch are seeded with the
seed, in that order, and the environment is reset once with the seed right after it is made. One
torch thread. Its per-iteration return is its own: it resets the environment at the start of every
iteration and averages the episodes begun and ended inside it (an episode cut by the iteration's end
is dropped), where the project's scripts carry episodes across iterations. The record's trust-region
columns are empty: the released code measures the trust region only on the iterations of its
`advanced_logging`.

Only the standard library is imported at the top, so that the project's tests can check the changes
and the record export without the released code or its dependencies.
"""

import argparse
import ast
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

RELEASED_COMMIT = "5ee6ecb12545365d9178135e65576adfc0d82f52"

# (file, pattern of their line, what it becomes): gymnasium's imports, and its reset returning
# (obs, info) and step returning (obs, reward, terminated, truncated, info). The released code
# treats the time limit as a termination (done), and still does: done = terminated or truncated.
CHANGES = [
    ("src/policy_gradients/agent.py", "import gym\n", "import gymnasium as gym\n"),
    (
        "src/policy_gradients/custom_env.py",
        "from gym.spaces.discrete import",
        "from gymnasium.spaces.discrete import",
    ),
    (
        "src/policy_gradients/custom_env.py",
        "from gym.spaces.box import",
        "from gymnasium.spaces.box import",
    ),
    ("src/policy_gradients/custom_env.py", "\nimport gym\n", "\nimport gymnasium as gym\n"),
    (
        "src/policy_gradients/custom_env.py",
        "self.env.reset().shape[0]",
        "self.env.reset()[0].shape[0]",
    ),
    (
        "src/policy_gradients/custom_env.py",
        "start_state = self.env.reset()",
        "start_state, _ = self.env.reset()",
    ),
    (
        "src/policy_gradients/custom_env.py",
        "state, reward, is_done, info = self.env.step(action)",
        "state, reward, terminated, truncated, info = self.env.step(action)\n"
        "        is_done = terminated or truncated",
    ),
]
VENDORED_COX = "src/cox"

# The released Hopper configs and the project's names for them (the records are named as ours are).
VARIANTS = {
    "ppo": "ppo_continuous",
    "ppom": "ppo_m",
    "trpo": "trpo",
    "trpo_plus": "trpo_plus",
    "ppo_noclip": "ppo_noclip",
}
ENVS = {"hopper": "Hopper-v4", "walker": "Walker2d-v4", "humanoid": "Humanoid-v4"}
RECORD_COLUMNS = [
    "iteration",
    "global_step",
    "mean_return",
    "episodes",
    "mean_kl",
    "max_ratio",
    "line_search_steps",
    "accepted",
    "expected_improvement",
    "actual_improvement",
    "kl_after_step",
]


class Refused(Exception):
    """A mistake of the user's, said in one sentence."""


def apply_changes(checkout: Path) -> list[str]:
    """Applies CHANGES to the checkout and removes the vendored cox; returns what it did. Every
    pattern must occur exactly once (a second run, or another commit, is refused before any
    write)."""
    checkout = Path(checkout)
    texts = {}
    for path, old, _ in CHANGES:
        file = checkout / path
        if not file.is_file():
            raise Refused(f"{file} does not exist: is {checkout} a checkout of the released code?")
        texts.setdefault(path, file.read_text())
    for path, old, new in CHANGES:
        count = texts[path].count(old)
        if count != 1:
            raise Refused(
                f"{path}: `{old.strip()}` occurs {count} times, not once (already patched, or not "
                f"commit {RELEASED_COMMIT[:7]}?)"
            )
        texts[path] = texts[path].replace(old, new)
    for path, text in texts.items():
        (checkout / path).write_text(text)
    done = [f"{path}: `{old.strip()}` -> `{new.strip()}`" for path, old, new in CHANGES]
    if (checkout / VENDORED_COX).exists():
        shutil.rmtree(checkout / VENDORED_COX)
        done.append(f"removed {VENDORED_COX} (cox 0.2 from the package index is used)")
    return done


def config_params(checkout: Path, config: str) -> dict:
    """The first agent of configs/CONFIG.py over src/MuJoCo.json, read without running the config
    (it makes folders when run). Its PARAMS lists one value per key, or `[value] * 40`."""
    file = Path(checkout) / "configs" / f"{config}.py"
    if not file.is_file():
        raise Refused(f"no released config {file}")
    tree = ast.parse(file.read_text())
    params = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PARAMS":
            params = node.value
    if not isinstance(params, ast.Dict):
        raise Refused(f"{file} has no PARAMS dict")
    first = {}
    for key, value in zip(params.keys, params.values, strict=True):
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
            value = value.left
        first[ast.literal_eval(key)] = ast.literal_eval(value)[0]
    base = json.loads((Path(checkout) / "src" / "MuJoCo.json").read_text())
    return {**base, **first}


def record_name(config: str, seed: int) -> str:
    env, _, algorithm = config.partition("_")
    if env not in ENVS or algorithm not in VARIANTS:
        raise Refused(f"unknown released config `{config}` (ENV_ALGO, e.g. hopper_ppo)")
    return f"{ENVS[env]}__{VARIANTS[algorithm]}__{seed}"


def record_text(config: str, seed: int, params: dict, returns, episodes, start_time: int) -> str:
    """The record: a line naming the source, the constants line of the project's records, the
    header, one row per iteration (mean return and episode count; empty where no episode ended)."""
    name = record_name(config, seed)
    ppo = params["mode"] == "ppo"
    constants = {
        "run": f"{name}__{start_time}",
        "batch_size": params["t"],
        "batch_size_assumed": 0,
        "planned_iterations": params["train_steps"],
        "max_kl": "" if ppo else params["max_kl"],
        "clip_coef": params["clip_eps"] if ppo else "",
    }
    lines = [
        "# Per-iteration record of the released code's run: MadryLab/implementation-matters at "
        f"{RELEASED_COMMIT}, configs/{config}.py, seed {seed} (reference/released/released.py).",
        "# " + " ".join(f"{key}={value}" for key, value in constants.items()),
        ",".join(RECORD_COLUMNS),
    ]
    empty = [""] * (len(RECORD_COLUMNS) - 4)
    for i, (ret, count) in enumerate(zip(returns, episodes, strict=True)):
        cells = [f"{ret:.6g}", str(count)] if count else ["", ""]
        lines.append(",".join([str(i + 1), str((i + 1) * params["t"]), *cells, *empty]))
    return "\n".join(lines) + "\n"


def run(checkout: Path, config: str, seed: int, records: Path, iterations: int | None) -> Path:
    """Trains the released config, seeded, and writes its record (see the module docstring)."""
    import gymnasium
    import numpy as np
    import torch

    checkout = Path(checkout).resolve()
    if not (checkout / ".git").exists():
        raise Refused(f"{checkout} is not a git work tree (the released run.py records its commit)")
    if (checkout / VENDORED_COX).exists():
        raise Refused(f"{checkout} is not patched yet: run `released.py patch {checkout}` first")
    name = record_name(config, seed)
    params = config_params(checkout, config)
    params["game"] = params["game"].replace("-v2", "-v4")
    if iterations is not None:
        params["train_steps"] = iterations
    store = Path(tempfile.mkdtemp(prefix=f"released_{name}_"))
    params["out_dir"] = str(store)

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    make = gymnasium.make

    def make_seeded(*args, **kwargs):
        env = make(*args, **kwargs)
        env.reset(seed=seed)
        return env

    gymnasium.make = make_seeded

    sys.path.insert(0, str(checkout / "src"))
    import run as released_run
    from policy_gradients.agent import Trainer

    # The training iteration's rollout is the one collect_saps logs (should_log); ask it for the
    # episodes' returns too, to count them, and give the caller what it asked for.
    returns, episodes = [], []
    collect_saps = Trainer.collect_saps

    def counting_collect_saps(self, num_saps, should_log=True, return_rewards=False, **kwargs):
        *out, ep_rewards = collect_saps(self, num_saps, should_log, True, **kwargs)
        if should_log:
            ended = out[2] != -1  # the released code's -1: no episode ended in the iteration
            returns.append(float(out[1]) if ended else float("nan"))
            episodes.append(len(ep_rewards) if ended else 0)
        return (*out, ep_rewards) if return_rewards else tuple(out)

    Trainer.collect_saps = counting_collect_saps
    start_time = int(time.time())
    released_run.main(params)
    records.mkdir(parents=True, exist_ok=True)
    path = records / f"{name}.csv"
    text = record_text(config, seed, params, returns, episodes, start_time)
    path.with_suffix(".tmp").write_text(text)
    path.with_suffix(".tmp").replace(path)
    shutil.rmtree(store, ignore_errors=True)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    patch = commands.add_parser("patch", help="make a checkout run on gymnasium 1.4")
    patch.add_argument("checkout", type=Path)
    train = commands.add_parser("run", help="train one released config and write its record")
    train.add_argument("checkout", type=Path)
    train.add_argument("config", help="a released config, e.g. hopper_ppo (configs/hopper_ppo.py)")
    train.add_argument("--seed", type=int, required=True)
    train.add_argument("--records", type=Path, required=True, help="folder for the record")
    train.add_argument("--iterations", type=int, help="fewer than the config's 488, to try it")
    args = parser.parse_args(argv)
    try:
        if args.command == "patch":
            print("\n".join(apply_changes(args.checkout)))
        else:
            path = run(args.checkout, args.config, args.seed, args.records, args.iterations)
            print(f"wrote {path}")
    except Refused as refused:
        sys.exit(f"released.py: {refused}")


if __name__ == "__main__":
    main()
