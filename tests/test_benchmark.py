"""Tests of benchmark.sh and benchmark_report.py.

- The dry run lists the right commands, with the released configuration of the authors' code per
  environment, written out here a second time, independently of benchmark.sh.
- The report's arithmetic (per-iteration binning, bootstrap CI, AAI/ACLI, rolling mean) on numbers
  worked out by hand, then the whole report on small fake event files, and again from the records it
  wrote; the committed table regenerates from the committed records.
- A tiny real benchmark, once two of the variant scripts exist.
"""

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from conftest import PRESENT, ROOT, load

# The paper's order, as benchmark.sh's.
VARIANTS = ["ppo_continuous", "ppo_m", "trpo", "trpo_plus", "ppo_noclip"]
SCRIPTS = ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"]  # ppo_noclip runs ppo_continuous.py
PAPER_ENVS = ["Hopper-v4", "Walker2d-v4", "Humanoid-v4"]  # the default: the paper's models

report = load("benchmark_report")


# ==================================================================================================
# benchmark.sh --dry-run
# ==================================================================================================
@pytest.fixture
def bench_dir(tmp_path):
    """A copy of benchmark.sh beside empty stand-ins for the four scripts, which a dry run never
    starts, so that these tests do not depend on which scripts exist yet."""
    shutil.copy(ROOT / "benchmark.sh", tmp_path / "benchmark.sh")
    for script in SCRIPTS:
        (tmp_path / f"{script}.py").touch()
    return tmp_path


def run_bench(bench_dir, *args):
    command = ["bash", str(bench_dir / "benchmark.sh"), "--out", str(bench_dir / "out"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def dry_run(bench_dir, *args):
    """The run commands of a dry run, each as (script name, {flag: value}), in order."""
    result = run_bench(bench_dir, "--dry-run", *args)
    assert result.returncode == 0, result.stderr
    out = bench_dir / "out"
    commands = []
    for line in result.stdout.splitlines():
        if not line.startswith("( cd "):
            continue
        # ( cd OUT && OMP_NUM_THREADS=1 python SCRIPT ARGS... ) > LOG 2>&1
        tokens = shlex.split(line)
        assert tokens[:5] == ["(", "cd", str(out), "&&", "OMP_NUM_THREADS=1"]
        script = Path(tokens[6])
        assert script.parent == bench_dir
        end = tokens.index(")")
        assert Path(tokens[end + 2]).parent == out / "logs"
        got = flags(tokens[7:end])
        # The variant is the run's name (ppo_noclip runs ppo_continuous.py); the ablation's
        # names say more.
        variant = (
            script.stem
            if got["exp-name"].startswith("ablation")
            else got["exp-name"].removesuffix("_tlterm")
        )
        commands.append((variant, got))
    return commands


def flags(args):
    """--name value -> {"name": "value"}, --name -> True, --no-name -> False; the last one wins,
    as in tyro."""
    parsed = {}
    i = 0
    while i < len(args):
        assert args[i].startswith("--"), args
        name = args[i][2:]
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            parsed[name] = args[i + 1]
            i += 2
        elif name.startswith("no-"):
            parsed[name[3:]] = False
            i += 1
        else:
            parsed[name] = True
            i += 1
    return parsed


# The released configuration (the authors' configs over their base MuJoCo.json), written out here a
# second time, independently of benchmark.sh's table.
COMMON = {"num-steps": 2048, "gamma": 0.99, "norm-obs": True, "tanh": True, "save-model": True}
OPTIMIZATIONS = {
    "scale-reward": True,
    "scale-reward-by": "returns",
    "clip-reward": True,
    "clip-reward-bound": 10,
}
OPTIMIZATIONS |= {"clip-obs": True, "clip-obs-bound": 10, "clip-grad-norm": False}
PPO = {"clip-surrogate": True, "clip-coef": 0.2, "ent-coef": 0.0}
TRPO = {"cg-iters": 10, "cg-damping": 0.1, "fisher-fraction": 0.1, "max-backtracks": 10}
TRPO |= {"accept-ratio": 0.1}
VARIANT_COMMON = {
    "ppo_continuous": COMMON | PPO | OPTIMIZATIONS | {"ortho-init": True, "anneal-lr": True},
    "ppo_m": COMMON | PPO,
    "trpo": COMMON | TRPO,
    "trpo_plus": COMMON | TRPO | OPTIMIZATIONS | {"anneal-lr": False},
    "ppo_noclip": COMMON | {"clip-surrogate": False, "scale-reward": True, "clip-reward": True},
}
LR, VALUE_LR, KL = "learning-rate", "value-learning-rate", "max-kl"
VCLIP, ORTHO, ANNEAL, ENT = "clip-vloss", "ortho-init", "anneal-lr", "ent-coef"
BY, RCLIP, OCLIP, OBOUND = "scale-reward-by", "clip-reward-bound", "clip-obs", "clip-obs-bound"
GCLIP, GBOUND, LAMBDA = "clip-grad-norm", "max-grad-norm", "gae-lambda"
# fmt: off
PER_ENV = {
    ("ppo_continuous", "Hopper"):   {LR: 3e-4,   VALUE_LR: 2.5e-4, VCLIP: False},
    ("ppo_continuous", "Walker2d"): {LR: 4e-4,   VALUE_LR: 3e-4,   VCLIP: True},
    ("ppo_continuous", "Humanoid"): {LR: 1.5e-4, VALUE_LR: 1e-4,   VCLIP: True},
    ("ppo_m", "Hopper"):            {LR: 1.7e-4, VALUE_LR: 4e-4},
    ("ppo_m", "Walker2d"):          {LR: 1e-4,   VALUE_LR: 2e-4},
    ("ppo_m", "Humanoid"):          {LR: 9e-5,   VALUE_LR: 4e-4},
    ("trpo", "Hopper"):             {KL: 0.13,   VALUE_LR: 2e-4},
    ("trpo", "Walker2d"):           {KL: 0.04,   VALUE_LR: 3e-4},
    ("trpo", "Humanoid"):           {KL: 0.07,   VALUE_LR: 3e-4},
    ("trpo_plus", "Hopper"):        {KL: 0.04,   VALUE_LR: 2e-4,   VCLIP: False, ORTHO: True},
    ("trpo_plus", "Walker2d"):      {KL: 0.07,   VALUE_LR: 1e-4,   VCLIP: False, ORTHO: True},
    ("trpo_plus", "Humanoid"):      {KL: 0.1,    VALUE_LR: 5e-5,   VCLIP: True,  ORTHO: False,
                                     LAMBDA: 0.85},
    # PPO-NoClip (Table 2): its own configs; the gradient clipping is on the policy only.
    ("ppo_noclip", "Hopper"):       {LR: 6e-5,    VALUE_LR: 4e-4, LAMBDA: 0.925, VCLIP: False,
                                     ORTHO: True, ANNEAL: True, ENT: -0.005, BY: "rewards",
                                     RCLIP: 2.5, OCLIP: True, OBOUND: 10, GCLIP: True, GBOUND: 4},
    ("ppo_noclip", "Walker2d"):     {LR: 7.25e-5, VALUE_LR: 6e-4, LAMBDA: 0.85, VCLIP: False,
                                     ORTHO: True, ANNEAL: True, ENT: -0.01, BY: "rewards",
                                     RCLIP: 30, OCLIP: False, GCLIP: True, GBOUND: 0.1},
    ("ppo_noclip", "Humanoid"):     {LR: 2e-5,    VALUE_LR: 5e-5, LAMBDA: 0.85, VCLIP: True,
                                     ORTHO: False, ANNEAL: False, ENT: 0.005, BY: "returns",
                                     RCLIP: 10, OCLIP: True, OBOUND: 10, GCLIP: True, GBOUND: 0.5},
}
# fmt: on


def expected_settings(variant, family):
    return VARIANT_COMMON[variant] | {LAMBDA: 0.95} | PER_ENV[variant, family]


def assert_settings(got, expected):
    for name, value in expected.items():
        assert name in got, f"--{name} missing"
        if isinstance(value, bool):
            assert got[name] is value, name
        elif isinstance(value, str):
            assert got[name] == value, name
        else:
            assert float(got[name]) == pytest.approx(value), name


def test_dry_run_lists_every_variant_env_seed_once(bench_dir):
    # Defaults: five variants, the paper's three environments, seeds 1 2 3
    commands = dry_run(bench_dir)
    assert len(commands) == 5 * 3 * 3
    runs = sorted((variant, got["env-id"], got["seed"]) for variant, got in commands)
    assert runs == sorted((v, e, s) for v in VARIANTS for e in PAPER_ENVS for s in "123")
    for variant, got in commands:
        assert got["total-timesteps"] == "1000000"
        assert got["exp-name"] == variant


def test_dry_run_passes_the_released_settings(bench_dir):
    commands = dry_run(bench_dir, "--seeds", "1")
    assert len(commands) == 5 * 3
    for variant, got in commands:
        assert_settings(got, expected_settings(variant, got["env-id"].split("-")[0]))
    # The two examples of the task, spelled as the command line spells them.
    by_run = {(variant, got["env-id"]): got for variant, got in commands}
    walker_ppo = by_run["ppo_continuous", "Walker2d-v4"]
    assert (walker_ppo[LR], walker_ppo[VALUE_LR], walker_ppo[VCLIP]) == ("0.0004", "0.0003", True)
    humanoid_trpo_plus = by_run["trpo_plus", "Humanoid-v4"]
    assert (humanoid_trpo_plus[ORTHO], humanoid_trpo_plus[VCLIP]) == (False, True)
    assert (humanoid_trpo_plus["gae-lambda"], humanoid_trpo_plus[KL]) == ("0.85", "0.1")
    walker_noclip = by_run["ppo_noclip", "Walker2d-v4"]
    assert (walker_noclip["clip-surrogate"], walker_noclip[ENT], walker_noclip[BY]) == (
        False,
        "-0.01",
        "rewards",
    )


def test_noclip_only_is_ppo_with_only_the_surrogate_clipping_off(bench_dir):
    # Not in the default set: the defaults are the paper's five variants (the test above).
    envs = ("--envs", "Hopper-v4 Walker2d-v4 Humanoid-v4", "--seeds", "1")
    ppo = dry_run(bench_dir, "--variants", "ppo_continuous", *envs)
    noclip_only = dry_run(bench_dir, "--variants", "ppo_noclip_only", *envs)
    assert [v for v, _ in noclip_only] == ["ppo_noclip_only"] * 3
    for (_, got), (_, want) in zip(noclip_only, ppo, strict=True):
        assert got.pop("clip-surrogate") is False and want.pop("clip-surrogate") is True
        assert got.pop("exp-name") == "ppo_noclip_only"
        want.pop("exp-name")
        assert got == want


def test_dry_run_other_env_gets_hopper_settings_and_a_note(bench_dir):
    result = run_bench(bench_dir, "--dry-run", "--envs", "HalfCheetah-v5", "--seeds", "1")
    assert "HalfCheetah-v5 is not one of the paper's environments" in result.stdout
    commands = dry_run(bench_dir, "--envs", "HalfCheetah-v5", "--seeds", "1")
    assert len(commands) == 5
    for variant, got in commands:
        assert got["env-id"] == "HalfCheetah-v5"
        assert_settings(got, expected_settings(variant, "Hopper"))


def test_dry_run_options_and_passthrough(bench_dir):
    options = ["--variants", "trpo ppo_m", "--envs", "Walker2d-v5", "--seeds", "4,5"]
    commands = dry_run(bench_dir, *options, "--steps", "4096", "--", "--num-steps", "1024")
    runs = [(variant, got["seed"]) for variant, got in commands]
    assert runs == [("trpo", "4"), ("ppo_m", "4"), ("trpo", "5"), ("ppo_m", "5")]  # as given
    for _, got in commands:
        assert got["total-timesteps"] == "4096"
        assert got["num-steps"] == "1024"  # given after the released 2048, so it wins


def test_default_variants_are_the_scripts_that_exist(bench_dir):
    (bench_dir / "ppo_m.py").unlink()
    (bench_dir / "trpo_plus.py").unlink()
    commands = dry_run(bench_dir, "--seeds", "1")
    assert sorted({variant for variant, _ in commands}) == ["ppo_continuous", "ppo_noclip", "trpo"]
    assert len(commands) == 3 * 3


@pytest.mark.parametrize("env_id", ["Walker2d-v4", "Humanoid-v4", "Walker2d-v5"])
def test_dry_run_ablation_lists_the_16_combinations(bench_dir, env_id):
    commands = dry_run(bench_dir, "--ablation", "--envs", env_id, "--seeds", "1 2")
    assert len(commands) == 16 * 2
    switches = ["clip-vloss", "scale-reward", "ortho-init", "anneal-lr"]
    # The released PPO configuration of the environment (written out above, independently of
    # benchmark.sh), less the four switches and reward clipping, which follows scaling.
    released = expected_settings("ppo_continuous", env_id.split("-")[0])
    released = {
        name: value for name, value in released.items() if name not in [*switches, "clip-reward"]
    }
    combinations = set()
    for variant, got in commands:
        assert variant == "ppo_continuous"
        assert got["env-id"] == env_id and got["total-timesteps"] == "1000000"
        combination = tuple(got[switch] for switch in switches)
        combinations.add((got["seed"], combination))
        # The name says the combination, so that the report can group the runs.
        named = dict(zip(report.ABLATION_SWITCHES, combination, strict=True))
        assert report.ablation_switches(got["exp-name"]) == named
        assert_settings(got, released)
        # The released code clips rewards inside its reward scaler: clipping is on exactly
        # when scaling is.
        assert got["clip-reward"] is got["scale-reward"]
    assert len(combinations) == 16 * 2


def test_dry_run_time_limit_as_termination(bench_dir):
    commands = dry_run(
        bench_dir, "--time-limit-as-termination", "--variants", "trpo", "--seeds", "1"
    )
    # Beside the default runs.
    assert [got["exp-name"] for _, got in commands] == ["trpo_tlterm"] * 3
    for _, got in commands:
        assert got["time-limit-as-termination"] is True
        assert_settings(got, expected_settings("trpo", got["env-id"].split("-")[0]))


def test_dry_run_marks_finished_runs(bench_dir):
    # A .done marker holding the same command means the run finished: a real run would skip it.
    one_run = ["--dry-run", "--variants", "trpo", "--envs", "Hopper-v5", "--seeds", "1"]
    line = next(x for x in run_bench(bench_dir, *one_run).stdout.splitlines() if x.startswith("("))
    tokens = shlex.split(line)
    marker_text = shlex.join(["trpo.py", *tokens[7 : tokens.index(")")]])
    logs = bench_dir / "out" / "logs"
    logs.mkdir(parents=True)
    (logs / "Hopper-v5__trpo__1.done").write_text(marker_text + "\n")
    assert "# finished, would be skipped: ( cd " in run_bench(bench_dir, *one_run).stdout
    # Another step count is another run: not skipped.
    longer = run_bench(bench_dir, *one_run, "--steps", "2000000")
    assert "would be skipped" not in longer.stdout


def test_dry_run_skips_a_run_whose_whole_record_is_there(bench_dir):
    # A clone's committed results have records but no markers: a whole record counts as finished.
    one_run = ["--dry-run", "--variants", "trpo", "--envs", "Hopper-v5", "--seeds", "1"]
    records = bench_dir / "out" / "records"
    records.mkdir(parents=True)
    record = records / "Hopper-v5__trpo__1.csv"
    header = (
        "# Per-iteration record of the run Hopper-v5__trpo__1__1700000000, extracted ...\n"
        "# run=Hopper-v5__trpo__1__1700000000 batch_size=2048 batch_size_assumed=0 "
        "planned_iterations=488 max_kl=0.13 clip_coef=\n"
        "iteration,global_step,mean_return\n"
    )
    record.write_text(header + "487,997376,1000.5\n488,999424,1001.5\n")
    result = run_bench(bench_dir, *one_run)
    assert "# finished, would be skipped: ( cd " in result.stdout
    # ... and the report reads the records beside the event files.
    assert result.stdout.splitlines()[-1].endswith(f"--records {records}")
    # Not a whole run: one that stopped early, or of another length, runs (again).
    assert "would be skipped" not in run_bench(bench_dir, *one_run, "--steps", "2000000").stdout
    assert (
        "would be skipped" not in run_bench(bench_dir, *one_run, "--", "--num-steps", "1024").stdout
    )
    record.write_text(header + "487,997376,1000.5\n")
    assert "would be skipped" not in run_bench(bench_dir, *one_run).stdout
    # A marker decides where there is one: a run finished with other settings runs again.
    record.write_text(header + "488,999424,1001.5\n")
    logs = bench_dir / "out" / "logs"
    logs.mkdir()
    (logs / "Hopper-v5__trpo__1.done").write_text("trpo.py --env-id Hopper-v5 --other-settings\n")
    assert "would be skipped" not in run_bench(bench_dir, *one_run).stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "--steps must be a positive integer"),
        (["--jobs", "two"], "--jobs must be a positive integer"),
        (["--variants", "ppo"], "unknown variant 'ppo'"),
        (["--seeds", "a"], "seeds must be non-negative integers"),
        (["--bogus"], "unknown option '--bogus'"),
    ],
)
def test_bad_options_give_one_sentence(bench_dir, args, message):
    result = run_bench(bench_dir, "--dry-run", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_missing_script_is_an_error(bench_dir):
    (bench_dir / "trpo.py").unlink()
    result = run_bench(bench_dir, "--dry-run", "--variants", "trpo")
    assert result.returncode == 2 and "trpo.py does not exist" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--envs", "NoSuch-v9"], "NoSuch-v9 is not an environment of gymnasium "),
        (["--envs", "Hopper-v5 Hopper-v9"], "Hopper-v9 is not an environment of gymnasium "),
        (
            ["--envs", "CartPole-v1"],
            "CartPole-v1 has discrete actions (Discrete(2)); the variants need continuous ones (a "
            "Box action space)",
        ),
        (
            ["--steps", "100"],
            "--steps 100 is less than one iteration's batch of 2048 steps, so no run would train; "
            "give at least 2048",
        ),
        (
            ["--steps", "4096", "--", "--total-timesteps", "1000"],
            "--total-timesteps 1000 is less than one iteration's",
        ),
    ],
)
@pytest.mark.parametrize("mode", [[], ["--slurm"]])
def test_runs_that_cannot_train_are_refused_before_anything_starts(bench_dir, args, message, mode):
    result = run_bench(bench_dir, *mode, "--variants", "trpo", "--seeds", "1", *args)
    assert result.returncode == 2
    assert (
        result.stderr.startswith(f"benchmark.sh: {message}")
        and len(result.stderr.splitlines()) == 1
    )
    assert result.stdout == ""  # no note that it "gets the Hopper settings", no run started
    assert not (bench_dir / "out").exists()  # nothing written, nothing submitted


def test_steps_of_one_batch_given_after_the_separator_pass(bench_dir):
    commands = dry_run(
        bench_dir,
        "--variants",
        "trpo",
        "--seeds",
        "1",
        "--steps",
        "1024",
        "--",
        "--num-steps",
        "1024",
    )
    assert len(commands) == 3 and commands[0][1]["num-steps"] == "1024"


def test_default_jobs_is_the_cores_whatever_omp_num_threads_says(bench_dir):
    env = os.environ | {"OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
    command = [
        "bash",
        str(bench_dir / "benchmark.sh"),
        "--dry-run",
        "--out",
        str(bench_dir / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    cores = len(os.sched_getaffinity(0))  # the CPUs this process may use, as nproc counts them
    assert f"1000000 steps each, {cores} at a time, into {bench_dir / 'out'}" in result.stdout


def stand_in_python(folder):
    """An interpreter for benchmark.sh that passes its environment check and runs each run as a
    sleep of FAKE_RUN_SECONDS (exec'd, so that the benchmark's SIGTERM ends it)."""
    python = folder / "python"
    python.write_text(
        '#!/bin/sh\ncase "$1" in -c) exit 0 ;; esac\nexec sleep "${FAKE_RUN_SECONDS:-0}"\n'
    )
    python.chmod(0o755)
    return python


def test_second_benchmark_on_the_same_out_is_refused(bench_dir):
    out = bench_dir / "out"
    one_run = [
        "--out",
        str(out),
        "--variants",
        "trpo",
        "--envs",
        "Hopper-v5",
        "--seeds",
        "1",
        "--steps",
        "2048",
    ]
    command = ["bash", str(bench_dir / "benchmark.sh"), *one_run]
    env = os.environ | {"PYTHON": str(stand_in_python(bench_dir)), "FAKE_RUN_SECONDS": "60"}
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        for line in first.stdout:
            if line.startswith("started  Hopper-v5__trpo__1"):
                break
        log = (out / "logs" / "Hopper-v5__trpo__1.log").read_text()
        refusal = f"benchmark.sh: {out} is in use by another benchmark (PID {first.pid}); "
        refusal += "wait for it to end, or give another --out\n"
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert (second.returncode, second.stdout, second.stderr) == (2, "", refusal)
        # A submission to Slurm would write into the same folder: refused alike (sbatch is
        # never called).
        fake_bin = bench_dir / "bin"
        fake_bin.mkdir()
        (fake_bin / "sbatch").write_text("#!/bin/sh\necho sbatch was called >&2\nexit 1\n")
        (fake_bin / "sbatch").chmod(0o755)
        slurm_env = env | {"PATH": f"{fake_bin}:{os.environ['PATH']}"}
        slurm = subprocess.run(
            [*command, "--slurm"], capture_output=True, text=True, timeout=60, env=slurm_env
        )
        assert (slurm.returncode, slurm.stderr) == (2, refusal)
        assert first.poll() is None and (out / "logs" / "Hopper-v5__trpo__1.log").read_text() == log
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert first.returncode == 130
    # The lock ended with the first benchmark: the same command runs now.
    again = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env | {"FAKE_RUN_SECONDS": "0"}
    )
    assert again.returncode == 0, again.stderr
    assert "finished Hopper-v5__trpo__1" in again.stdout


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_flag_passed_is_an_option_of_the_script(bench_dir, variant):
    # PPO-NoClip runs PPO's script.
    script = ROOT / ("ppo_continuous.py" if variant == "ppo_noclip" else f"{variant}.py")
    commands = dry_run(bench_dir, "--variants", variant, "--seeds", "1")
    if variant == "ppo_continuous":
        commands += dry_run(bench_dir, "--ablation", "--envs", "Hopper-v5", "--seeds", "1")
    help_run = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    for _, got in commands:
        for name, value in got.items():
            spelled = f"--no-{name}" if value is False else f"--{name}"
            assert spelled in help_run.stdout, f"{variant}.py has no option {spelled}"


# ==================================================================================================
# The report's arithmetic, on numbers worked out by hand
# ==================================================================================================
def test_episodes_count_in_the_iteration_they_ended_in(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    # Batch 2048: steps 1..2048 are iteration 1, 2049..4096 iteration 2, step 6000 iteration 3.
    folder = tmp_path / "Hopper-v5__trpo__1__1700000000"
    writer = SummaryWriter(str(folder))
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n|batch_size|2048|")
    for step, value in zip([1, 2048, 2049, 4096, 6000], [10, 20, 30, 50, 7], strict=True):
        writer.add_scalar("charts/episodic_return", value, step)
    writer.add_scalar("trust_region/mean_kl", 0.01, 4 * 2048)  # iteration 4: no episode ended
    writer.close()
    run = report.read_record("Hopper-v5__trpo__1.csv", report.record_from_events(folder, []))
    assert run.columns["mean_return"][:3].tolist() == [15.0, 40.0, 7.0]
    assert run.columns["episodes"][:3].tolist() == [2, 2, 1]
    # An iteration without a finished episode has no return, not zero.
    assert np.isnan(run.columns["mean_return"][3]) and np.isnan(run.columns["episodes"][3])
    assert report.iteration_of([1, 2048, 2049, 4096, 6000], 2048).tolist() == [1, 1, 2, 2, 3]


def test_aggregates():
    means = np.arange(1.0, 16.0)  # iterations 1..15
    assert report.aggregate(means, "best") == 15.0
    assert report.aggregate(means, "last10") == np.mean(np.arange(6.0, 16.0)) == 10.5
    assert report.aggregate(np.array([3.0, 1.0]), "last10") == 2.0  # fewer than 10: all of them


def test_aai_acli_from_the_papers_means():
    walker = {"ppo_continuous": 3292, "ppo_m": 2735, "trpo": 2791, "trpo_plus": 3050}
    # AAI = max(|3292 - 3050|, |2735 - 2791|) = max(242, 56),
    # ACLI = max(|3292 - 2735|, |3050 - 2791|) = max(557, 259).
    assert report.aai_acli(walker) == (242, 557)
    humanoid = {"ppo_continuous": 806, "ppo_m": 674, "trpo": 586, "trpo_plus": 1030}
    assert report.aai_acli(humanoid) == (224, 444)  # as printed in the paper
    del walker["trpo"]
    assert report.aai_acli(walker) == (None, None)


def test_names_and_hyperparameters():
    parsed = report.parse_run_name("Hopper-v5__ppo_m__3__1700000000")
    assert parsed == ("Hopper-v5", "ppo_m", 3, 1700000000)
    assert report.parse_run_name("Hopper-v5__ppo_m__x__1700000000") is None
    header = "|param|value|\n|-|-|\n"
    assert report.parse_batch_size(header + "|num_steps|1024|\n|batch_size|4096|") == 4096
    assert report.parse_batch_size(header + "|num_steps|1024|\n|num_envs|2|") is None
    assert report.parse_batch_size("no table here") is None
    assert report.env_family("Walker2d-v5") == "Walker2d"
    switches = report.ablation_switches("ablation_clip_vloss1_scale_reward0_ortho_init1_anneal_lr0")
    assert switches == {
        "clip_vloss": True,
        "scale_reward": False,
        "ortho_init": True,
        "anneal_lr": False,
    }
    assert report.ablation_switches("ppo_continuous") is None


# ==================================================================================================
# The report on fake event files
# ==================================================================================================
ITERATIONS = 12
BATCH = 2048
# (variant, seed) -> base: the mean return of iteration k is base + 2k, so the best iteration is
# base + 24 and the last 10 iterations (3..12) average base + 15.
BASES = {
    ("ppo_continuous", 1): 1000,
    ("ppo_continuous", 2): 1100,
    ("ppo_m", 1): 800,
    ("ppo_m", 2): 900,
    ("trpo", 1): 700,
    ("trpo", 2): 700,
    ("trpo_plus", 1): 950,
    ("trpo_plus", 2): 1050,
}
PAPER_CSV = (
    "# a comment line\nvariant,env,mean,ci_low,ci_high\n"
    "ppo,Hopper,2513,2391,2632\nppo_m,Hopper,2142,2008,2279\ntrpo,Hopper,2043,1948,2136\n"
    "trpo_plus,Hopper,2466,2381,2549\nppo_noclip,Hopper,2371,2316,2424\n"
)


def write_fake_run(
    runs, env_id, exp_name, seed, base, unix_time=1700000000, hparams=True, planned=None
):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(runs / f"{env_id}__{exp_name}__{seed}__{unix_time}"))
    trpo = exp_name.startswith("trpo")
    if hparams:
        table = f"|param|value|\n|-|-|\n|batch_size|{BATCH}|\n|num_envs|1|"
        table += "\n|max_kl|0.02|" if trpo else "\n|clip_coef|0.5|"
        table += f"\n|num_iterations|{planned}|" if planned else ""
        writer.add_text("hyperparameters", table)
    for k in range(1, ITERATIONS + 1):
        # Two episodes per iteration, mean base + 2k; the second ends on the iteration's last step.
        writer.add_scalar("charts/episodic_return", base + 2 * k - 5, (k - 1) * BATCH + 500)
        writer.add_scalar("charts/episodic_return", base + 2 * k + 5, k * BATCH)
        writer.add_scalar("trust_region/mean_kl", 0.01 * k, k * BATCH)
        writer.add_scalar("trust_region/max_ratio", 1 + 0.1 * k, k * BATCH)
        if trpo:  # the line search gives up in iterations 3 and 7; a step taken has KL 0.001 k
            accepted = k not in (3, 7)
            writer.add_scalar("trpo/line_search_steps", 10 if not accepted else k % 3, k * BATCH)
            writer.add_scalar("trpo/accepted", float(accepted), k * BATCH)
            writer.add_scalar("trpo/expected_improvement", 0.5 / k, k * BATCH)
            writer.add_scalar("trpo/actual_improvement", 0.4 / k if accepted else 0.0, k * BATCH)
            writer.add_scalar("trpo/kl_after_step", 0.001 * k if accepted else 0.0, k * BATCH)
    writer.close()


def write_fake_runs(runs, env_id="Hopper-v5", offset=0, exp_suffix=""):
    for (variant, seed), base in BASES.items():
        write_fake_run(runs, env_id, variant + exp_suffix, seed, base + offset)


def table_rows(text, title_start, key=1):
    """{the first key+1 cells joined by spaces: [the other cells]} of the markdown table under the
    heading that starts with title_start."""
    section = re.split(r"\n#+ ", text.split(f"## {title_start}")[1])[0]  # up to the next heading
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("| ") and not line.startswith("|:-") and not line.startswith("|--"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[" ".join(cells[: key + 1])] = cells[key + 1 :]
    return rows


def test_report_on_fake_logs(tmp_path):
    runs = tmp_path / "runs"
    write_fake_runs(runs)
    paper_csv = tmp_path / "paper.csv"
    paper_csv.write_text(PAPER_CSV)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=paper_csv))

    text = (tmp_path / "out" / "table.md").read_text()
    table = table_rows(text, "Tables 1 and 2", key=2)
    # PPO's seeds reach 1024 and 1124: mean 1074, t interval 1074 +- 12.706 * 50 = [439, 1709].
    assert table["Hopper-v5 PPO ours"] == [
        "2513 [2391, 2632]",
        "1074 [439, 1709] (n=2)",
        "1065 [430, 1700] (n=2)",
    ]
    assert table["Hopper-v5 TRPO ours"][1:] == ["724 [724, 724] (n=2)", "715 [715, 715] (n=2)"]
    # AAI = max(|1074 - 1024|, |874 - 724|) = 150, ACLI = max(|1074 - 874|, |1024 - 724|) = 300;
    # the paper's, from its means: max(47, 99) = 99 and max(371, 423) = 423.
    assert table["Hopper-v5 AAI ours"] == ["99", "150", "150"]
    assert table["Hopper-v5 ACLI ours"] == ["423", "300", "300"]
    assert "Comparisons" not in text  # one environment version, no time-limit or released runs
    assert not (tmp_path / "out" / "ablation.md").exists()
    # Per variant: the mean KL 0.01 k has mean 0.065; the max ratio 1 + 0.1 k has mean 1.65, largest
    # 2.2; PPO's is above 1 + eps = 1.5 in iterations 6..12, 7 of 12 = 58.3%; TRPO's mean KL is
    # above delta = 0.02 in iterations 3..12, 10 of 12 = 83.3%.
    trust = table_rows(text, "Trust region", key=2)
    assert trust["Hopper-v5 PPO ours"] == ["2", "2.2", "0.065", "1.65", "0.5833", "—", "0.5", "—"]
    assert trust["Hopper-v5 TRPO ours"][4:] == ["—", "0.8333", "—", "0.02"]
    # Per run: TRPO's line search gave up in 2 of 12 iterations.
    per_run = table_rows(text, "Per run", key=1)
    assert per_run["Hopper-v5 Hopper-v5__trpo__1__1700000000"] == [
        "12", "724", "715", "0.065", "1.65", "2",
    ]  # fmt: skip
    for name in ("curves_Hopper-v5.png", "trust_region_Hopper-v5.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_record_of_a_run_by_hand(tmp_path):
    write_fake_run(tmp_path / "runs", "Hopper-v5", "trpo", 1, 700, planned=ITERATIONS)
    report.main(report.Args(runs=tmp_path / "runs", out=tmp_path / "out"))
    lines = (tmp_path / "out" / "records" / "Hopper-v5__trpo__1.csv").read_text().splitlines()
    constants = (
        "run=Hopper-v5__trpo__1__1700000000 batch_size=2048 batch_size_assumed=0 "
        "planned_iterations=12"
    )
    assert lines[1] == f"# {constants} max_kl=0.02 clip_coef="
    columns = (
        "iteration,global_step,mean_return,episodes,mean_kl,max_ratio,line_search_steps,accepted,"
    )
    assert lines[2] == columns + "expected_improvement,actual_improvement,kl_after_step"
    # Iteration 3: episodes 701 and 711, mean 706; the line search gave up after 10 steps; the
    # float32 logs rounded to 6 significant digits.
    assert lines[5] == "3,6144,706,2,0.03,1.3,10,0,0.166667,0,0"
    assert lines[6] == "4,8192,708,2,0.04,1.4,1,1,0.125,0.1,0.004"
    assert len(lines) == 3 + ITERATIONS


def test_report_from_records_equals_report_from_event_files(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_fake_runs(runs, "Walker2d-v4")
    write_fake_runs(runs, "Walker2d-v5", offset=200)
    write_fake_run(runs, "Walker2d-v4", "ppo_continuous_tlterm", 1, 900)
    write_fake_run(runs, "Walker2d-v4", "ppo_noclip", 1, 1200)
    write_fake_run(runs, "Walker2d-v4", "ppo_m", 3, 800, unix_time=1600000000)  # older ...
    write_fake_run(runs, "Walker2d-v4", "ppo_m", 3, 850, unix_time=1700000000)  # ... newest
    write_fake_run(runs, "Walker2d-v4", "ppo_m", 4, 850, hparams=False)  # no batch size: assumed
    write_fake_run(runs, "Walker2d-v4", "trpo", 3, 50, planned=2 * ITERATIONS)  # unfinished
    write_fake_run(
        runs, "Hopper-v4", "ablation_clip_vloss1_scale_reward0_ortho_init1_anneal_lr0", 1, 5
    )
    paper_csv = tmp_path / "paper.csv"
    paper_csv.write_text(PAPER_CSV.replace("Hopper", "Walker2d"))
    report.main(report.Args(runs=runs, out=tmp_path / "from_runs", paper_table=paper_csv))
    records = tmp_path / "from_runs" / "records"
    assert len(list(records.glob("*.csv"))) == 8 * 2 + 6
    assert max(path.stat().st_size for path in records.iterdir()) < 2000  # 12 iterations each
    report.main(report.Args(records=records, out=tmp_path / "from_records", paper_table=paper_csv))
    for name in ("table.md", "ablation.md", "claims.csv"):
        assert (tmp_path / "from_records" / name).read_text() == (
            tmp_path / "from_runs" / name
        ).read_text()
    # The records travel with the report, written again byte for byte.
    for record in records.iterdir():
        assert (
            tmp_path / "from_records" / "records" / record.name
        ).read_bytes() == record.read_bytes()
    text = (tmp_path / "from_records" / "table.md").read_text()
    assert "`Walker2d-v4__ppo_m__3__1700000000`: 2 run folders, used the newest" in text
    assert (
        "`Walker2d-v4__ppo_m__4__1700000000`: no batch size in its hyperparameters, assumed 2048"
        in text
    )
    assert "has 12 of 24 iterations" in text
    figures = [
        sorted(p.name for p in (tmp_path / out).glob("*.png"))
        for out in ("from_runs", "from_records")
    ]
    # Curves and trust region per environment; the ablation.
    assert figures[0] == figures[1] and len(figures[0]) == 2 * 2 + 1


def test_report_from_records_and_event_files_together(tmp_path):
    # A clone's committed records, then new runs in event files: each run is read once, and where
    # both have it (a run done again), from its event files.
    runs = tmp_path / "runs"
    write_fake_runs(runs, "Walker2d-v4")
    report.main(report.Args(runs=runs, out=tmp_path / "all", paper_table=tmp_path / "none.csv"))
    records = tmp_path / "records"
    shutil.copytree(tmp_path / "all" / "records", records)
    # An earlier attempt's record of TRPO seed 2, other numbers, which its event files replace.
    write_fake_run(tmp_path / "earlier", "Walker2d-v4", "trpo", 2, 10)
    report.main(
        report.Args(
            runs=tmp_path / "earlier",
            out=tmp_path / "earlier_out",
            paper_table=tmp_path / "none.csv",
        )
    )
    earlier = tmp_path / "earlier_out" / "records" / "Walker2d-v4__trpo__2.csv"
    assert earlier.read_bytes() != (records / earlier.name).read_bytes()
    shutil.copy(earlier, records / earlier.name)
    # Seed 1 only in the records; seed 2 in the event files, TRPO's in both.
    for folder in runs.glob("*__1__*"):
        shutil.rmtree(folder)
    for record in records.glob("*__2.csv"):
        if record.name != earlier.name:
            record.unlink()
    together = tmp_path / "together"
    report.main(
        report.Args(runs=runs, records=records, out=together, paper_table=tmp_path / "none.csv")
    )
    assert (together / "table.md").read_text() == (tmp_path / "all" / "table.md").read_text()
    written = sorted(p.name for p in (together / "records").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "all" / "records").iterdir())
    for name in written:
        assert (together / "records" / name).read_bytes() == (
            tmp_path / "all" / "records" / name
        ).read_bytes()


def test_report_notes_and_missing_paper_table(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_fake_run(runs, "Walker2d-v5", "my_change", 1, 100, unix_time=1700000000)
    # A second folder of the same seed (an earlier attempt): the newest is used.
    write_fake_run(runs, "Walker2d-v5", "my_change", 1, 300, unix_time=1700000100)
    write_fake_run(runs, "Walker2d-v5", "my_change", 2, 200, hparams=False)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=tmp_path / "absent.csv"))
    text = (tmp_path / "out" / "table.md").read_text()
    table = table_rows(text, "Tables 1 and 2", key=2)
    # Seeds 324 and 224: mean 274, t interval 274 +- 12.706 * 50.
    assert table["Walker2d-v5 `my_change` ours"] == [
        "",
        "274 [-361, 909] (n=2)",
        "265 [-370, 900] (n=2)",
    ]
    assert "Walker2d-v5 AAI ours" not in table  # AAI needs all four variants
    assert "2 run folders, used the newest" in text
    assert "no batch size in its hyperparameters, assumed 2048" in text
    assert "The paper's numbers were not found" in text
    # ... and the terminal says so, in one line.
    missing = [line for line in capsys.readouterr().err.splitlines() if "paper" in line]
    assert missing == [
        f"benchmark_report.py: no paper table at {tmp_path / 'absent.csv'}; its columns stay empty"
    ]


def test_default_paper_table_is_the_repositorys(tmp_path):
    paper = report.load_paper_table(report.Args(out=tmp_path).paper_table)
    assert len(paper) == 5 * 3
    assert paper.loc["ppo_continuous", "Walker2d"].tolist() == [3292, 3157, 3426]
    assert paper.loc["trpo_plus", "Humanoid"].tolist() == [1030, 979, 1083]
    assert paper.loc["ppo_noclip", "Hopper"].tolist() == [2371, 2316, 2424]
    # Hopper: AAI max(|2513 - 2466|, |2142 - 2043|) = 99 as printed in the paper.
    assert report.aai_acli({v: paper.loc[v, "Hopper"]["mean"] for v in report.TABLE_1})[0] == 99


def test_report_leaves_unfinished_runs_out_of_the_tables(tmp_path):
    runs = tmp_path / "runs"
    write_fake_run(runs, "Hopper-v5", "ppo_continuous", 1, 1000, planned=ITERATIONS)
    # Half done.
    write_fake_run(runs, "Hopper-v5", "ppo_continuous", 2, 5000, planned=2 * ITERATIONS)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=tmp_path / "absent.csv"))
    text = (tmp_path / "out" / "table.md").read_text()
    table = table_rows(text, "Tables 1 and 2", key=2)
    assert table["Hopper-v5 PPO ours"] == ["", "1024 (n=1)", "1015 (n=1)"]  # seed 1 only
    per_run = table_rows(text, "Per run", key=1)
    assert per_run["Hopper-v5 Hopper-v5__ppo_continuous__2__1700000000"][0] == "12 of 24"
    assert f"has {ITERATIONS} of {2 * ITERATIONS} iterations" in text


def write_record(
    records, env_id, exp_name, seed, value, iterations=ITERATIONS, max_ratio=1.5, kl=0.01, header=""
):
    """A finished run's record whose every iteration returns `value` (so both aggregates do)."""
    source = f"{env_id}__{exp_name}__{seed}__1700000000"
    lines = [header or f"# Per-iteration record of the run {source}, written by the tests."]
    lines.append(
        f"# run={source} batch_size={BATCH} batch_size_assumed=0 planned_iterations={iterations} "
        "max_kl= clip_coef=0.2"
    )
    lines.append(",".join(report.RECORD_COLUMNS))
    lines += [f"{k},{k * BATCH},{value},2,{kl},{max_ratio},,,,," for k in range(1, iterations + 1)]
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{env_id}__{exp_name}__{seed}.csv").write_text("\n".join(lines) + "\n")


def readme_table(readme):
    """{first cell: [cells]} of the README block's table."""
    block = readme_block(readme.read_text())
    rows = {}
    for line in block.splitlines():
        if line.startswith("| ") and not line.startswith("|:-"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def readme_block(text):
    return text[
        text.index(report.REPRO_START) + len(report.REPRO_START) + 1 : text.index(report.REPRO_END)
    ]


FIVE = [0, 100, 200, 300, 400]


def known_world(records, released):
    """Hopper-v4: PPO far above PPO-M (agrees), TRPO+ far below TRPO (disagrees), ACLI = AAI (not
    resolved); PPO-M's trust region 5x PPO's (agrees), PPO-NoClip's 1.1x (inside [1/2, 2]: agrees),
    NoClip on PPO's config 5x (outside: disagrees); the released code's PPO, 3 seeds. Walker2d-v4:
    one PPO-M seed (not resolved), the rest alike."""
    for seed in range(1, 6):
        i = seed - 1
        ratio = 1.5 + 0.01 * seed
        write_record(records, "Hopper-v4", "ppo_continuous", seed, 3000 + FIVE[i], max_ratio=ratio)
        write_record(
            records, "Hopper-v4", "ppo_m", seed, 1000 + FIVE[i], max_ratio=3 + ratio, kl=0.05
        )
        write_record(records, "Hopper-v4", "trpo", seed, 2000 + FIVE[i], max_ratio=ratio)
        write_record(records, "Hopper-v4", "trpo_plus", seed, 1000 + FIVE[i], max_ratio=ratio)
        write_record(records, "Hopper-v4", "ppo_noclip", seed, 2500, max_ratio=ratio, kl=0.011)
        write_record(
            records, "Hopper-v4", "ppo_noclip_only", seed, 2500, max_ratio=3 + ratio, kl=0.05
        )
        for variant in report.TABLE_1[:: 1 if seed == 1 else 2]:
            write_record(records, "Walker2d-v4", variant, seed, 2000 + FIVE[i], max_ratio=ratio)
    for seed in (1, 2, 3):
        header = "# Per-iteration record of the released code's run, by hand."
        write_record(released, "Hopper-v4", "ppo_continuous", seed, 2000 + seed, header=header)
    for seed in (1, 2):  # ours with the time limit as a termination, two seeds
        write_record(records, "Hopper-v4", "ppo_continuous_tlterm", seed, 2000 + 10 * seed)


def test_known_answers_reach_the_readme_marks_and_claims_csv(tmp_path):
    records, released = tmp_path / "records", tmp_path / "released"
    known_world(records, released)
    readme = tmp_path / "README.md"
    readme.write_text(f"# A project\n\n{report.REPRO_START}\nold\n{report.REPRO_END}\nMore.\n")
    report.main(
        report.Args(records=records, out=tmp_path / "out", readme=readme, released=released)
    )
    rows = readme_table(readme)
    assert list(rows)[0] == ""  # the header: n per environment, the most seeds of a variant
    assert rows[""] == ["Hopper-v4 (n=5)", "Walker2d-v4 (n=5)"]
    # paper / last 10 / best; Walker2d-v4's PPO-M has one seed, said in its cell.
    assert rows["PPO"] == ["2513 / 3200 / 3200", "3292 / 2200 / 2200"]
    assert rows["PPO-M"] == ["2142 / 1200 / 1200", "2735 / 2000 / 2000 (n=1)"]
    assert rows["PPO, released code"] == ["— / 2002 / 2002 (n=3)", "—"]
    assert rows["PPO, time limit as termination"] == ["— / 2015 / 2015 (n=2)", "—"]
    assert "PPO-M, released code" not in rows  # no runs, no row
    marks = {
        row: cells
        for row, cells in rows.items()
        if "," in row and "/" in cells[0] or "plots" in row
    }
    assert rows["PPO > PPO-M, Table 1 (best / last 10)"] == [
        "agrees / agrees", "not resolved / not resolved",
    ]  # fmt: skip
    assert rows["TRPO+ > TRPO, Table 1 (best / last 10)"][0] == "disagrees / disagrees"
    assert rows["ACLI > AAI, Table 1 (best / last 10)"][0] == "not resolved / not resolved"
    assert rows["PPO's max ratio beyond 1 + eps, trust-region plots"][0] == "agrees"
    assert rows["PPO-M's mean KL above PPO's, trust-region plots"][0] == "agrees"
    assert rows["PPO-NoClip's mean KL as PPO's, within 2x, trust-region plots"][0] == "agrees"
    assert rows["the same, NoClip on PPO's config: mean KL, trust-region plots"] == [
        "disagrees", "—",
    ]  # fmt: skip
    assert marks  # the claims' rows are there
    # claims.csv has the same marks as data, with the statistics behind them.
    claims = pd.read_csv(tmp_path / "out" / "claims.csv")
    ppo = claims[(claims.env == "Hopper-v4") & (claims.claim == "ppo_ppom")].iloc[0]
    assert (ppo.estimate, ppo.mark, ppo.n) == (2000, "agrees", "5, 5")
    assert ppo.p == pytest.approx(1 / 252)  # the most extreme of the 252 splits
    noclip = claims[(claims.env == "Hopper-v4") & (claims.claim == "noclip_only_kl")].iloc[0]
    assert noclip.estimate == pytest.approx(5.0) and noclip.mark == "disagrees"
    # A claim whose group has no runs has no row: Walker2d-v4 has no PPO-NoClip runs.
    walker = set(claims[claims.env == "Walker2d-v4"].claim)
    assert walker == {"acli", "ppo_ppom", "trpop_trpo", "ppo_ratio", "ppom_kl", "ppom_ratio"}
    # Each setting against the released code, counted in one README sentence: ours 5 seeds
    # against 3 (p = 1/56 each way), ours with the time limit 2 against 3 (p >= 1/10).
    against = "ours: above in 2 of 2; ours, time limit as termination: not resolved in 2 of 2"
    assert against in readme_block(readme.read_text())
    # The released code against ours: 3 seeds against 5, in the comparisons, not among the claims.
    text = (tmp_path / "out" / "table.md").read_text()
    compared = table_rows(text, "Comparisons", key=3)
    row = compared["Hopper-v4 PPO ours minus the released code best iteration"]
    assert row[1:] == ["5, 3", "0.0179, 1.0000", "above"]  # 1/56 < 0.025
    assert "released" not in " ".join(claims.text)


def test_ablation_claims_split_by_reward_scaling_and_value_clipping(tmp_path):
    """Value clipping without reward scaling collapses learning (500), with it gains 400: on all
    pairs both ablation claims agree with the paper, split by the other switch they do not."""
    records = tmp_path / "records"
    for seed, *on in itertools.product((1, 2, 3), *[(0, 1)] * 4):
        state = dict(zip(report.ABLATION_SWITCHES, on, strict=True))
        clip, scale = state["clip_vloss"], state["scale_reward"]
        noise = 20 * ((seed + 2 * clip + 3 * scale + 5 * on[2] + 7 * on[3]) % 4)
        name = "ablation_" + "_".join(f"{switch}{x}" for switch, x in state.items())
        write_record(
            records, "Walker2d-v4", name, seed, noise + (500 if clip > scale else 3000 + 400 * clip)
        )
        for variant in report.TABLE_1:
            write_record(records, "Walker2d-v4", variant, seed, 3000 + seed)
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.REPRO_START}\n{report.REPRO_END}\n")
    report.main(report.Args(records=records, out=tmp_path / "out", readme=readme))
    claims = pd.read_csv(tmp_path / "out" / "claims.csv").set_index(["claim", "aggregate"])
    best = claims.xs("best", level="aggregate")
    assert best.loc["clip_vloss", "mark"] == "agrees"  # -1050: no gain, as the paper says
    assert best.loc["clip_vloss_scaled", "estimate"] == pytest.approx(1220 / 3)  # pairs 360 / 440
    assert best.loc["clip_vloss_scaled", ["n", "mark"]].tolist() == ["12 pairs", "disagrees"]
    assert best.loc["scale_reward", ["estimate", "mark"]].tolist() == [1450, "agrees"]
    unclipped = best.loc["scale_reward_unclipped"]  # pairs -20 / 60
    assert (unclipped.estimate, unclipped.mark) == (pytest.approx(-20 / 3), "not resolved")
    rows = readme_table(readme)
    assert rows["the same, with reward scaling on (as released), Fig. 1 (best / last 10)"] == [
        "disagrees / disagrees"
    ]
    assert rows["reward scaling raises the return, Fig. 1 (best / last 10)"] == ["agrees / agrees"]


GOLDEN = Path(__file__).with_name("golden_readme_block.md")  # the block, rendered once


def test_golden_render_of_the_readme_block(tmp_path):
    records = tmp_path / "records"
    for seed in (1, 2, 3):
        for variant, value in zip(report.TABLE_1, (3000, 2000, 1000, 1500), strict=True):
            write_record(
                records, "Hopper-v4", variant, seed, value + 10 * seed, max_ratio=1.5 + seed / 100
            )
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.REPRO_START}\n{report.REPRO_END}\n")
    report.main(report.Args(records=records, out=tmp_path / "out", readme=readme))
    assert readme_block(readme.read_text()) == GOLDEN.read_text()


def test_calibration_of_the_rule_on_5_seed_draws_like_the_records():
    """With no true difference the rule says agrees in at most 6.5% of draws; with one it says so.
    The draws resample the committed records' best-iteration returns (skewed: Humanoid-v4 TRPO+;
    two clusters: Walker2d-v4's ablation runs, half of which collapse), and a lognormal."""
    rng = np.random.default_rng(0)
    records = ROOT / "benchmark_results" / "records"
    skewed = [
        report.read_record(p).iteration_returns.max()
        for p in records.glob("Humanoid-v4__trpo_plus__*.csv")
    ]
    clusters = [
        report.read_record(p).iteration_returns.max()
        for p in records.glob("Walker2d-v4__ablation_*.csv")
    ]
    populations = {"lognormal": np.exp(rng.normal(7, 0.8, 1000))}
    if len(skewed) >= 5 and len(clusters) >= 20:
        populations |= {"skewed": np.array(skewed), "two clusters": np.array(clusters)}
    draws, stats = 2000, report.stats
    rates, clear = {}, {}
    for name, population in populations.items():
        a, b = (rng.choice(population, size=(draws, 5)) for _ in range(2))
        marks = stats.mark_of(
            stats.permutation_p(a, b, "greater"), stats.permutation_p(a, b, "less")
        )
        rates[name, "unpaired"] = np.mean(marks == "agrees")
        d = rng.choice(population, size=(draws, 5)) - rng.choice(population, size=(draws, 5))
        # The paired t-test vectorized over the draws; the report's own function on the first 100.
        p = [
            scipy.stats.ttest_1samp(d, 0, axis=1, alternative=s).pvalue for s in ("greater", "less")
        ]
        paired = stats.mark_of(*p)
        assert [stats.paired_greater(x, 0 * x).mark for x in d[:100]] == paired[:100].tolist()
        rates[name, "paired"] = np.mean(paired == "agrees")
        four = rng.choice(population, size=(4, 400, 5))
        rates[name, "ACLI - AAI"] = np.mean(
            [stats.acli_minus_aai(*g).mark == "agrees" for g in four.transpose(1, 0, 2)]
        )
        # A clear difference: one group shifted by two of the population's standard deviations.
        shift = 2 * population.std()
        p = [stats.permutation_p(a + shift, b, s) for s in ("greater", "less")]
        clear[name] = stats.mark_of(*p)
    print("\nfalse-positive rate of 'agrees':", {k: f"{v:.4f}" for k, v in rates.items()})
    for name, marks in clear.items():
        assert np.mean(marks == "agrees") > 0.5 and np.mean(marks == "disagrees") < 0.005, name
    assert len(populations) == 3 or not any(records.glob("*.csv"))
    for key, rate in rates.items():
        assert rate <= 0.065, (key, rate)


def test_the_tests_on_hand_worked_cases():
    stats = report.stats
    # 5 against 5, every value of the first above every value of the second: the observed split is
    # the most extreme of C(10, 5) = 252, p = 1/252 one way and 1 the other.
    clear = stats.greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert (clear.estimate, clear.p, clear.p_against, clear.mark) == (5, 1 / 252, 1.0, "agrees")
    assert stats.greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).mark == "disagrees"
    assert stats.greater([1, 2, 3], [1, 2, 3]).mark == "not resolved"
    assert stats.greater([3000], [1000, 1100]).mark == "not resolved"  # one run: no test
    # Equivalence: within a margin of 1 (TOST) or beyond it.
    assert (
        stats.equivalent([0.0, 0.1, 0.2, 0.3, 0.4], [0.05, 0.1, 0.2, 0.3, 0.35], 1.0).mark
        == "agrees"
    )
    assert (
        stats.equivalent([5.0, 5.1, 5.2, 5.3, 5.4], [0.0, 0.1, 0.2, 0.3, 0.4], 1.0).mark
        == "disagrees"
    )
    # Paired t: differences 1, 2, 3 have mean 2 and standard error 1/sqrt(3): t = 3.46, 2 df,
    # one-sided p = 0.0371.
    paired = stats.paired_greater([2, 4, 6], [1, 2, 3])
    assert paired.p == pytest.approx(0.0371, abs=1e-4) and paired.mark == "agrees"
    assert paired.n == "3 pairs" and stats.paired_greater([2], [1]).n == "1 pair"
    # A margin: the claim "on - off stays below 10" holds for differences 1, 2, 3.
    assert stats.paired_greater([2, 4, 6], [1, 2, 3], margin=10).mark == "agrees"
    # ACLI - AAI: PPO 10 above PPO-M, TRPO+ and TRPO alike, PPO and TRPO+ 1 apart ... the contrast
    # (PPO - PPO-M) - |PPO-M - TRPO| = 10 - 9 = 1 is tested, not the four means' spread.
    result = stats.acli_minus_aai([10, 10.1], [0, 0.1], [9, 9.1], [9, 9.1])
    assert result.estimate == pytest.approx(1.0) and result.n == "2, 2, 2, 2"


def test_report_without_runs_says_so(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(SystemExit, match="no run in"):
        report.main(report.Args(runs=tmp_path / "runs", out=tmp_path / "out"))
    (tmp_path / "records").mkdir()
    with pytest.raises(SystemExit, match="no run in .*runs and .*records"):
        report.main(
            report.Args(runs=tmp_path / "runs", records=tmp_path / "records", out=tmp_path / "out")
        )


def test_report_needs_out_and_a_source():
    command = [sys.executable, str(ROOT / "benchmark_report.py")]
    no_out = subprocess.run(
        [*command, "--runs", "somewhere"], capture_output=True, text=True, timeout=60
    )
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    no_source = subprocess.run(
        [*command, "--out", "somewhere"], capture_output=True, text=True, timeout=60
    )
    assert no_source.returncode == 1
    assert (
        no_source.stderr.strip()
        == "benchmark_report.py: give --runs (event files), --records (per-run records) or both"
    )


def test_committed_table_regenerates_from_committed_records(tmp_path):
    results = ROOT / "benchmark_results"
    if not any((results / "records").glob("*.csv")):
        pytest.skip(
            "benchmark_results/records/ holds no records yet, so the committed table cannot be "
            "regenerated"
        )
    # The report writes its summary into a copy of the README, beside a copy of the results folder,
    # so that the block's links come out as in the repository's README.
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    out = tmp_path / "benchmark_results"
    released = results / "released" / "records"
    released = released if released.is_dir() else None
    readme = tmp_path / "README.md"
    report.main(report.Args(records=results / "records", out=out, readme=readme, released=released))
    for name in ("table.md", "ablation.md", "claims.csv"):
        if (results / name).exists():
            assert (out / name).read_text() == (results / name).read_text(), (
                f"{name} does not regenerate"
            )
    readme = (ROOT / "README.md").read_text()
    if report.REPRO_START in readme:
        assert (tmp_path / "README.md").read_text() == readme, (
            "the README's results summary does not regenerate"
        )


# ==================================================================================================
# The report on what it should not trust: broken records and event files, Ctrl-C, a full disk
# ==================================================================================================
def record_text(run="Hopper-v5__trpo__1__1700000000", iterations=3, batch_size=BATCH):
    """A record as the report writes it: every iteration with two episodes and TRPO's columns."""
    lines = [
        f"# Per-iteration record of the run {run}, written by hand.",
        f"# run={run} batch_size={batch_size} batch_size_assumed=0 planned_iterations={iterations} "
        "max_kl=0.02 clip_coef=",
        ",".join(report.RECORD_COLUMNS),
    ]
    lines += [
        f"{k},{k * batch_size},{100 + k},2,0.01,1.1,1,1,0.1,0.1,0.01"
        for k in range(1, iterations + 1)
    ]
    return "\n".join(lines) + "\n"


GOOD = record_text()
ROWS = GOOD.splitlines(keepends=True)  # two comment lines, the header, iterations 1, 2, 3


@pytest.mark.parametrize(
    "name, text, message",
    [
        # One line with a huge iteration number once made the report allocate ~20 GB.
        (
            "huge iteration",
            "".join(ROWS[:3]) + "300000000,0,5,5,,,,,,,\n",
            "its row 1 is not iteration 1 at global step 2048",
        ),
        ("a gap", "".join(ROWS[:4] + ROWS[5:]), "its row 2 is not iteration 2 at global step 4096"),
        (
            "a duplicate row",
            "".join(ROWS[:5] + ROWS[4:]),
            "its row 3 is not iteration 3 at global step 6144",
        ),
        ("another step", GOOD.replace("2,4096,", "2,4000,"), "its row 2 is not iteration 2"),
        (
            "a short row",
            GOOD.replace(",0.01\n", "\n", 1),
            "its row 1 is not iteration 1 at global step 2048 with 11 fields",
        ),
        (
            "another header",
            GOOD.replace("mean_return,", "return,"),
            "its header is not iteration,global_step,",
        ),
        ("no run line", "".join(ROWS[:1] + ROWS[2:]), "no `# run=...` line naming its run"),
        (
            "a run name without a seed",
            GOOD.replace("trpo__1__", "trpo__x__"),
            "no `# run=...` line naming its run",
        ),
        (
            "no batch size",
            GOOD.replace("batch_size=2048", "batch_size=0"),
            "batch_size='0' in its `# run=` line",
        ),
        (
            "huge planned",
            GOOD.replace("planned_iterations=3", "planned_iterations=1e999"),
            "planned_iterations=",
        ),
        ("a word", GOOD.replace(",102,", ",many,"), "could not convert string to float: 'many'"),
        (
            "a return without episodes",
            GOOD.replace(",102,2,", ",102,,"),
            "a mean return without its number of episodes",
        ),
        (
            "half an episode",
            GOOD.replace(",102,2,", ",102,1.5,"),
            "a mean return without its number of episodes",
        ),
    ],
)
def test_a_record_that_does_not_hold_is_skipped_with_a_note(tmp_path, name, text, message):
    records = tmp_path / "records"
    records.mkdir()
    (records / "Hopper-v5__trpo__1.csv").write_text(text)
    (records / "Hopper-v5__trpo__2.csv").write_text(GOOD.replace("trpo__1__", "trpo__2__"))
    skipped = []
    runs = report.load_records(records, skipped)
    assert [run.key for run in runs] == ["Hopper-v5__trpo__2"]
    assert len(skipped) == 1 and skipped[0].startswith(
        "skipped the record `Hopper-v5__trpo__1.csv`: "
    ), skipped
    assert message in skipped[0]


def test_a_record_cannot_make_the_report_grow_beyond_its_size(tmp_path):
    import tracemalloc

    path = tmp_path / "Hopper-v5__trpo__1.csv"
    path.write_text("".join(ROWS[:3]) + "300000000,0,5,5,,,,,,,\n")
    tracemalloc.start()
    with pytest.raises(ValueError, match="its row 1 is not iteration 1"):
        report.read_record(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # bytes; the record's own length sizes the columns, not its numbers


def test_skipped_records_and_runs_are_noted_on_the_terminal_and_in_table_md(tmp_path, capsys):
    records = tmp_path / "records"
    records.mkdir()
    (records / "Hopper-v5__trpo__1.csv").write_text(GOOD)
    # A copy of a record under another name would be a second seed: one record per run.
    (records / "Hopper-v5__trpo__1 (copy).csv").write_text(GOOD)
    second = record_text(run="Hopper-v5__trpo__2__1700000000").splitlines(keepends=True)
    (records / "Hopper-v5__trpo__2.csv").write_text(
        "".join(second[:3]) + "300000000,0,5,5,,,,,,,\n"
    )
    report.main(
        report.Args(records=records, out=tmp_path / "out", paper_table=tmp_path / "absent.csv")
    )
    copy = (
        "skipped the record `Hopper-v5__trpo__1 (copy).csv`: it holds the run "
        "Hopper-v5__trpo__1__1700000000, whose record is Hopper-v5__trpo__1.csv"
    )
    huge = (
        "skipped the record `Hopper-v5__trpo__2.csv`: its row 1 is not iteration 1 "
        "at global step 2048"
    )
    terminal = capsys.readouterr().err
    table = (tmp_path / "out" / "table.md").read_text()
    for note in (copy, huge):
        assert f"note: {note}" in terminal
        assert f"- {note}" in table
    assert table_rows(table, "Tables 1 and 2", key=2)["Hopper-v5 TRPO ours"][1] == "103 (n=1)"


def test_event_files_with_a_step_outside_the_run_are_skipped(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    runs = tmp_path / "runs"
    write_fake_run(runs, "Hopper-v5", "trpo", 1, 700, planned=ITERATIONS)
    write_fake_run(runs, "Hopper-v5", "trpo", 2, 700, planned=ITERATIONS)
    # No planned iterations: one per point at most.
    write_fake_run(runs, "Hopper-v5", "trpo", 3, 700)
    for seed in (2, 3):
        writer = SummaryWriter(str(runs / f"Hopper-v5__trpo__{seed}__1700000000"))
        writer.add_scalar("trust_region/mean_kl", 0.1, 300_000_000 * BATCH)
        writer.close()
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=tmp_path / "absent.csv"))
    table = (tmp_path / "out" / "table.md").read_text()
    step = 300_000_000 * BATCH
    assert (
        f"- skipped `Hopper-v5__trpo__2__1700000000`: a point at step {step} lies outside "
        "its 12 planned " in table
    )
    # 12 iterations of 9 points (2 episodes, 7 per-iteration tags), and the one too far.
    what = (
        f"a point at step {step} lies outside 109 iterations (one per point logged) of 2048 steps"
    )
    assert f"- skipped `Hopper-v5__trpo__3__1700000000`: {what}" in table
    assert table_rows(table, "Tables 1 and 2", key=2)["Hopper-v5 TRPO ours"][1] == "724 (n=1)"


def report_files(out):
    """{path: bytes} of every file of a report, temporary ones included."""
    return {
        path.relative_to(out): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def test_ctrl_c_during_the_report_is_one_line_exit_130_and_leaves_the_previous_report(tmp_path):
    import signal

    runs, out = tmp_path / "runs", tmp_path / "out"
    write_fake_runs(runs)
    report.main(report.Args(runs=runs, out=out, paper_table=tmp_path / "absent.csv"))
    before = report_files(out)
    write_fake_run(runs, "Hopper-v5", "trpo", 3, 900)  # something new to report
    # Ctrl-C as the first figure is saved, after the records and table.md were written.
    code = (
        "import os, runpy, signal, sys\n"
        "from matplotlib.figure import Figure\n"
        "Figure.savefig = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGINT)\n"
        f"sys.argv = ['benchmark_report.py', '--runs', {str(runs)!r}, '--out', {str(out)!r}]\n"
        f"runpy.run_path({str(ROOT / 'benchmark_report.py')!r}, run_name='__main__')\n"
    )
    interrupted = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        # As a terminal would start it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert interrupted.returncode == 130, interrupted.stderr
    assert (
        interrupted.stderr.splitlines()[-1] == f"Ctrl-C: aborted; the report in {out} is as it was"
    )
    assert "Traceback" not in interrupted.stderr
    assert report_files(out) == before  # no file changed, none added, no temporary one left


def test_full_disk_report_is_one_sentence_and_leaves_the_previous_report(tmp_path, small_disk):
    runs, out = tmp_path / "runs", small_disk / "out"
    write_fake_runs(runs)
    report.main(report.Args(runs=runs, out=out, paper_table=tmp_path / "absent.csv"))
    before = report_files(out)
    write_fake_run(runs, "Hopper-v5", "trpo", 3, 900)
    # Fill the disk but for half the largest figure (the pandas report's figures of these fake runs
    # are about 40 KB): the records and table.md fit, that figure does not.
    largest_figure = max(len(data) for path, data in before.items() if path.suffix == ".png")
    margin = largest_figure // 2
    assert sum(len(d) for p, d in before.items() if p.suffix != ".png") < margin < largest_figure
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - margin))
    command = [
        sys.executable,
        str(ROOT / "benchmark_report.py"),
        "--runs",
        str(runs),
        "--out",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[-1]
        == f"benchmark_report.py: the disk of {out} is full; the report there is as it was"
    )
    assert "Traceback" not in result.stderr
    assert report_files(out) == before


# ==================================================================================================
# A tiny real benchmark
# ==================================================================================================
@pytest.mark.skipif(len(PRESENT) < 2, reason="needs two variant scripts, not written yet")
def test_tiny_real_benchmark(tmp_path):
    variants = [v for v in VARIANTS if v in PRESENT][:2]
    # Two variants x two seeds, 4 iterations of 1024 steps each, two runs at a time.
    command = ["bash", str(ROOT / "benchmark.sh"), "--variants", " ".join(variants)]
    command += ["--envs", "Hopper-v5", "--seeds", "1 2", "--steps", "4096", "--jobs", "2"]
    command += ["--out", str(tmp_path / "out"), "--", "--num-steps", "1024"]
    env = os.environ | {"PYTHON": sys.executable}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out"
    assert len(list((out / "logs").glob("*.done"))) == 4
    best = table_rows((out / "table.md").read_text(), "Tables 1 and 2", key=2)
    for variant in variants:
        cell = best[f"Hopper-v5 {report.VARIANT_LABELS[variant]} ours"][1]
        mean, low, high = (float(x) for x in re.findall(r"-?\d+", cell)[:3])
        assert low <= mean <= high
    assert (out / "curves_Hopper-v5.png").exists() and (out / "trust_region_Hopper-v5.png").exists()
    # Started again, it skips the finished runs and only writes the report again.
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0 and "started 0, skipped 4" in again.stdout
    # A clone of committed results: the records alone, no markers, no event files. Nothing runs,
    # and the report from the records is the same.
    clone = tmp_path / "clone"
    shutil.copytree(out / "records", clone / "records")
    command[command.index(str(out))] = str(clone)
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert resumed.returncode == 0 and "started 0, skipped 4" in resumed.stdout, resumed.stderr
    assert (clone / "table.md").read_text() == (out / "table.md").read_text()
