"""Tests of benchmark.sh and benchmark_report.py.

- The dry run lists the right commands, with the released configuration of the authors' code per
  environment, written out here a second time, independently of benchmark.sh.
- The report's arithmetic (per-iteration binning, bootstrap CI, AAI/ACLI, rolling mean) on numbers
  worked out by hand, then the whole report on small fake event files, and again from the records it
  wrote; the committed table regenerates from the committed records.
- A tiny real benchmark, once two of the variant scripts exist.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
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
def test_iteration_means_bins_episodes_by_the_iteration_they_ended_in():
    # Batch 2048: steps 1..2048 are iteration 1, 2049..4096 iteration 2, step 6000 iteration 3.
    steps, returns = [1, 2048, 2049, 4096, 6000], [10, 20, 30, 50, 7]
    iterations, means = report.iteration_means(steps, returns, 2048)
    assert iterations.tolist() == [1, 2, 3]
    assert means.tolist() == [15.0, 40.0, 7.0]
    # An iteration without a finished episode is absent, not zero.
    iterations, means = report.iteration_means([100, 5000], [1.0, 2.0], 2048)
    assert iterations.tolist() == [1, 3] and means.tolist() == [1.0, 2.0]


def test_aggregates():
    means = np.arange(1.0, 16.0)  # iterations 1..15
    assert report.aggregate(means, "best") == 15.0
    assert report.aggregate(means, "last10") == np.mean(np.arange(6.0, 16.0)) == 10.5
    assert report.aggregate(np.array([3.0, 1.0]), "last10") == 2.0  # fewer than 10: all of them


def test_bootstrap_ci_on_hand_worked_cases():
    assert report.bootstrap_ci([7.0, 7.0, 7.0]) == (7.0, 7.0, 7.0)
    # Two values 0 and 1: a resample's mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the
    # 2.5th percentile is 0 and the 97.5th is 1.
    assert report.bootstrap_ci([0.0, 1.0]) == (0.5, 0.0, 1.0)
    # 0, 0, 3: a resample's mean is 3 with probability 1/27 = 3.7% > 2.5%, and 0 with 8/27.
    assert report.bootstrap_ci([0.0, 0.0, 3.0]) == (1.0, 0.0, 3.0)
    # Many values: close to the normal approximation, mean +- 1.96 standard errors.
    values = np.random.default_rng(1).normal(100.0, 10.0, size=400)
    mean, low, high = report.bootstrap_ci(values)
    half_width = 1.96 * values.std() / np.sqrt(len(values))
    assert low == pytest.approx(mean - half_width, abs=0.15)
    assert high == pytest.approx(mean + half_width, abs=0.15)
    assert report.bootstrap_ci(values) == (mean, low, high)  # a fixed RNG seed: the same every time


def test_bootstrap_diff_ci():
    assert report.bootstrap_diff_ci([5.0, 5.0], [2.0, 2.0, 2.0]) == (3.0, 3.0, 3.0)
    # on: 0 and 2 (resample means 0, 1, 2); off: always 1. The difference spans -1 .. 1.
    assert report.bootstrap_diff_ci([0.0, 2.0], [1.0]) == (0.0, -1.0, 1.0)


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
    assert report.parse_batch_size(header + "|num_steps|1024|\n|num_envs|2|") == 2048
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


def test_rolling_mean_and_column_means_by_hand():
    matrix = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [np.nan, 2.0, np.nan, np.nan, np.nan]])
    # Window 2: (1), (1+2)/2, (2+3)/2, (3+4)/2, (4+5)/2; the second row's NaN are left out of
    # the mean.
    smoothed = report.rolling_mean(matrix, 2)
    assert smoothed[0].tolist() == [1.0, 1.5, 2.5, 3.5, 4.5]
    # A window without a value is NaN: columns 0 (only the first NaN), 3 and 4.
    np.testing.assert_array_equal(smoothed[1], [np.nan, 2.0, 2.0, np.nan, np.nan])
    # The window reaches back 3 columns: the last point is the mean of 3, 4, 5.
    assert report.rolling_mean(matrix, 3)[0].tolist() == [1.0, 1.5, 2.0, 3.0, 4.0]
    means = report.column_means(matrix)
    assert means.tolist()[:2] == [1.0, 2.0] and means[2] == 3.0


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


def table_rows(text, title_start):
    """{row label: [cells]} of the markdown table under the heading that starts with title_start."""
    section = re.split(r"\n#+ ", text.split(f"## {title_start}")[1])[0]  # up to the next heading
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def parse_cell(cell):
    """ "1074 [1024, 1124] (...)" -> (1074.0, 1024.0, 1124.0)"""
    mean, interval = cell.split(" [")
    low, high = interval.split("]")[0].split(", ")
    return float(mean), float(low), float(high)


def test_report_on_fake_logs(tmp_path):
    runs = tmp_path / "runs"
    write_fake_runs(runs)
    paper_csv = tmp_path / "paper.csv"
    paper_csv.write_text(PAPER_CSV)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=paper_csv))

    text = (tmp_path / "out" / "table.md").read_text()
    best = table_rows(text, "Table 1. Best iteration")
    assert best[""] == ["Hopper-v5 (ours)", "Hopper-v2 (paper)"]  # the header row
    # PPO's seeds reach 1024 and 1124. With two values the bootstrap CI spans both.
    assert best["PPO (`ppo_continuous`)"] == ["1074 [1024, 1124] (n=2)", "2513 [2391, 2632]"]
    assert best["PPO-M (`ppo_m`)"] == ["874 [824, 924] (n=2)", "2142 [2008, 2279]"]
    assert best["TRPO (`trpo`)"] == ["724 [724, 724] (n=2)", "2043 [1948, 2136]"]
    assert best["TRPO+ (`trpo_plus`)"] == ["1024 [974, 1074] (n=2)", "2466 [2381, 2549]"]
    # AAI = max(|1074 - 1024|, |874 - 724|) = 150, ACLI = max(|1074 - 874|, |1024 - 724|) = 300;
    # the paper's, from its means: max(47, 99) = 99 and max(371, 423) = 423.
    assert best["AAI"] == ["150", "99"]
    assert best["ACLI"] == ["300", "423"]
    last = table_rows(text, "Table 1. Last 10 iterations")
    assert last["PPO (`ppo_continuous`)"][0] == "1065 [1015, 1115] (n=2)"
    assert last["TRPO (`trpo`)"][0] == "715 [715, 715] (n=2)"
    assert "## Table 2" not in text  # no PPO-NoClip runs
    assert "Comparisons" not in text  # one environment version, no time-limit runs
    assert not (tmp_path / "out" / "ablation.md").exists()  # no ablation runs, no ablation section
    # Per run: the largest max ratio is 1 + 0.1 * 12, the mean of the mean KL 0.01 * 6.5; TRPO's
    # line search gave up twice, and its largest KL after a step taken is 0.012, under the
    # bound 0.02.
    assert (
        "| Hopper-v5 | `ppo_continuous` | 1 | 12 | 2048 | 1024 | 1015 | 2.20 | 0.0650 | — | — |"
        in text
    )
    assert (
        "| Hopper-v5 | `trpo` | 1 | 12 | 2048 | 724 | 715 | 2.20 | 0.0650 | 2 of 12 | 0.0120 "
        "(0.02) |" in text
    )
    # Per variant: the mean of the max ratio is 1 + 0.1 * 6.5; PPO's max ratio 1 + 0.1 k is above
    # 1 + eps = 1.5 in iterations 6..12, 7 of 12 = 58.3%; TRPO's mean KL 0.01 k is above delta =
    # 0.02 in iterations 3..12, 10 of 12 = 83.3%.
    assert (
        "| Hopper-v5 | PPO (`ppo_continuous`) | 2 | 0.0650 | 1.65 | 2.20 | 58.3% (eps 0.5) | — |"
        in text
    )
    assert (
        "| Hopper-v5 | TRPO (`trpo`) | 2 | 0.0650 | 1.65 | 2.20 | — | 83.3% (delta 0.02) |" in text
    )
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
    for name in ("table.md", "ablation.md", "summary.md"):
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


def test_tables_1_and_2_with_env_versions_and_time_limits(tmp_path):
    runs = tmp_path / "runs"
    write_fake_runs(runs, "Walker2d-v4")
    write_fake_runs(runs, "Walker2d-v5", offset=200)
    for seed in (1, 2):
        write_fake_run(runs, "Walker2d-v4", "ppo_continuous_tlterm", seed, 900)
        write_fake_run(runs, "Walker2d-v4", "ppo_noclip", seed, 1200 + 100 * seed)
    paper_csv = tmp_path / "paper.csv"
    paper_csv.write_text(PAPER_CSV.replace("Hopper", "Walker2d"))
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=paper_csv))
    text = (tmp_path / "out" / "table.md").read_text()

    best = table_rows(text, "Table 1. Best iteration")
    assert best[""] == [
        "Walker2d-v4 (ours)",
        "Walker2d-v2 (paper)",
        "Walker2d-v5 (ours)",
        "Walker2d-v2 (paper)",
    ]
    assert best["PPO (`ppo_continuous`)"] == [
        "1074 [1024, 1124] (n=2)",
        "2513 [2391, 2632]",
        "1274 [1224, 1324] (n=2)",
        "2513 [2391, 2632]",
    ]
    # Its own row, beside the paper's PPO; no AAI of its own, as the other three have no such runs.
    tlterm = best["PPO, time limit as termination (`ppo_continuous_tlterm`)"]
    assert tlterm == ["924 [924, 924] (n=2)", "2513 [2391, 2632]", "—", "2513 [2391, 2632]"]
    assert best["AAI (time limit as termination)"] == ["—", "99", "—", "99"]
    assert list(best)[1:6] == [
        "PPO (`ppo_continuous`)",
        "PPO-M (`ppo_m`)",
        "TRPO (`trpo`)",
        "TRPO+ (`trpo_plus`)",
        "PPO, time limit as termination (`ppo_continuous_tlterm`)",
    ]
    assert "PPO-NoClip (`ppo_noclip`)" not in best

    # Table 2: PPO-NoClip (bests 1324 and 1424), PPO beside it; PPO-NoClip ran on Walker2d-v4 only.
    table_2 = table_rows(text, "Table 2. Best iteration")
    assert list(table_2) == [
        "",
        "PPO-NoClip (`ppo_noclip`)",
        "PPO (`ppo_continuous`)",
        "PPO, time limit as termination (`ppo_continuous_tlterm`)",
    ]
    assert table_2["PPO-NoClip (`ppo_noclip`)"][:2] == [
        "1374 [1324, 1424] (n=2)",
        "2371 [2316, 2424]",
    ]
    assert table_2["PPO (`ppo_continuous`)"][0] == "1074 [1024, 1124] (n=2)"
    assert "AAI" not in table_2
    assert "## Table 2. Last 10 iterations" in text

    # v4 against v5, unpaired: each v5 seed is 200 higher, so "lower on v5" is contradicted.
    # Resampled, PPO's v4 mean is 1024, 1074 or 1124 and its v5 mean 1224, 1274 or 1324, each end
    # with probability 1/4; 1/16 > 2.5%, so the interval is [-300, -100].
    comparisons = table_rows(text, "Comparisons that the paper did not make")
    v5 = comparisons["PPO: lower on Walker2d-v5 than on Walker2d-v4"]
    assert v5[:2] == ["Walker2d-v4, Walker2d-v5", "unpaired"]
    assert v5[3:] == ["-200 [-300, -100], P=0.00: **contradicted**"] * 2 + ["2 each"]
    assert (
        comparisons["TRPO: lower on Walker2d-v5 than on Walker2d-v4"][3]
        == "-200 [-200, -200], P=0.00: **contradicted**"
    )
    # The time limit, paired by seed: the default's seeds (1024 and 1124) minus the same seeds taken
    # as termination (924 both): 100 and 200, resampled as pairs: +150 [100, 200].
    tlterm = comparisons[
        "PPO: bootstrapping the time limit scores above taking it as a termination"
    ]
    assert tlterm == [
        "Walker2d-v4",
        "paired by seed",
        "—",
        *["+150 [100, 200], P=1.00: **holds**"] * 2,
        "2 pairs",
    ]
    # The header, four variants on two versions, one time-limit pair
    assert len(comparisons) == 1 + 4 + 1


def test_report_notes_and_missing_paper_table(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_fake_run(runs, "Walker2d-v5", "my_change", 1, 100, unix_time=1700000000)
    # A second folder of the same seed (an earlier attempt): the newest is used.
    write_fake_run(runs, "Walker2d-v5", "my_change", 1, 300, unix_time=1700000100)
    write_fake_run(runs, "Walker2d-v5", "my_change", 2, 200, hparams=False)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=tmp_path / "absent.csv"))
    text = (tmp_path / "out" / "table.md").read_text()
    best = table_rows(text, "Table 1. Best iteration")
    assert best["`my_change`"] == ["274 [224, 324] (n=2)", "—"]  # seeds: 324 and 224
    assert best["AAI"] == ["—", "—"]
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
    assert paper["ppo_continuous", "Walker2d"] == (3292, 3157, 3426)
    assert paper["trpo_plus", "Humanoid"] == (1030, 979, 1083)
    assert paper["ppo_noclip", "Hopper"] == (2371, 2316, 2424)
    # Hopper: AAI max(|2513 - 2466|, |2142 - 2043|) = 99 as printed in the paper.
    assert report.aai_acli({v: paper[v, "Hopper"][0] for v in report.TABLE_1})[0] == 99


def test_report_leaves_unfinished_runs_out_of_the_tables(tmp_path):
    runs = tmp_path / "runs"
    write_fake_run(runs, "Hopper-v5", "ppo_continuous", 1, 1000, planned=ITERATIONS)
    # Half done.
    write_fake_run(runs, "Hopper-v5", "ppo_continuous", 2, 5000, planned=2 * ITERATIONS)
    report.main(report.Args(runs=runs, out=tmp_path / "out", paper_table=tmp_path / "absent.csv"))
    text = (tmp_path / "out" / "table.md").read_text()
    best = table_rows(text, "Table 1. Best iteration")
    assert best["PPO (`ppo_continuous`)"][0] == "1024 [1024, 1024] (n=1)"  # seed 1 only
    assert f"| Hopper-v5 | `ppo_continuous` | 2 | {ITERATIONS} of {2 * ITERATIONS} | 2048 |" in text
    assert f"has {ITERATIONS} of {2 * ITERATIONS} iterations" in text


def write_record(records, env_id, exp_name, seed, value, iterations=ITERATIONS, max_ratio=1.5):
    """A finished run's record whose every iteration returns `value` (so both aggregates do)."""
    columns = {name: np.full(iterations, np.nan) for name in report.RECORD_COLUMNS[2:]}
    columns["mean_return"][:] = value
    columns["episodes"][:] = 2
    columns["mean_kl"][:] = 0.01
    columns["max_ratio"][:] = max_ratio
    source = f"{env_id}__{exp_name}__{seed}__1700000000"
    run = report.Run(env_id, exp_name, seed, source, BATCH, False, iterations, None, 0.2, columns)
    records.mkdir(parents=True, exist_ok=True)
    report.write_record(run, records / f"{run.key}.csv")
    # The report writes under a temporary name that its main renames at the end: rename it here.
    temporary, final = report.STAGED.pop()
    temporary.replace(final)


def test_verdict_rule_on_hand_worked_cases():
    judge, difference = report.report_stats.judge, report.report_stats.difference_of_means
    # A clear difference: every resample of the first group is above every resample of the second.
    clear = judge([[3000, 3100, 3200], [1000, 1100, 1200]], difference)
    assert (clear.estimate, clear.p, clear.word) == (2000, 1.0, "holds")
    # The resampled means differ by 1800 to 2200.
    assert 1800 <= clear.low < 2000 < clear.high <= 2200
    assert judge([[1000, 1100, 1200], [3000, 3100, 3200]], difference).word == "contradicted"
    # No difference: the same values in both groups, the statistic symmetric about 0.
    same = judge([[2000, 2100, 2200], [2000, 2100, 2200]], difference)
    assert same.estimate == 0 and same.low < 0 < same.high and same.word == "no evidence"
    assert same.p == pytest.approx(0.5, abs=0.02)
    # A tie counts half: identical values give a statistic of 0 in every resample, P exactly 1/2.
    assert judge([[5, 5], [5, 5]], difference).p == 0.5
    # One outlier seed carries a mean difference of +950: the first group's resampled mean is 1000
    # (no difference) with probability (2/3)^3 = 0.30, so P is about 0.7, under 0.8, and the
    # interval reaches below 0.
    outlier = judge([[1000, 1000, 4000], [1000, 1050, 1100]], difference)
    assert outlier.estimate == 950 and outlier.low < 0 and outlier.word == "no evidence"
    assert outlier.p == pytest.approx(1 - (2 / 3) ** 3, abs=0.02)
    # One run in a group: no spread to resample, no verdict.
    assert judge([[3000], [1000, 1100]], difference).word == "too few runs"
    # The thresholds themselves.
    word = report.report_stats.verdict_word
    assert [word(-1, 1, p) for p in (0.8, 0.79, 0.5, 0.21, 0.2)] == [
        "leans",
        "no evidence",
        "no evidence",
        "no evidence",
        "leans against",
    ]


def test_verdicts_from_synthetic_records(tmp_path):
    records = tmp_path / "records"
    # Walker2d-v4, where the answers are known: PPO far above PPO-M (a clear difference), TRPO+ and
    # TRPO the same (no difference). Hopper-v4: PPO's mean above PPO-M's by one outlier seed alone.
    values = {
        ("Walker2d-v4", "ppo_continuous"): [3000, 3100, 3200],
        ("Walker2d-v4", "ppo_m"): [1000, 1100, 1200],
        ("Walker2d-v4", "trpo"): [2000, 2100, 2200],
        ("Walker2d-v4", "trpo_plus"): [2000, 2100, 2200],
        ("Hopper-v4", "ppo_continuous"): [1000, 1000, 4000],
        ("Hopper-v4", "ppo_m"): [1000, 1050, 1100],
        ("Hopper-v4", "trpo"): [1000, 1050, 1100],
        ("Hopper-v4", "trpo_plus"): [1000, 1050, 1100],
    }
    for (env, variant), seeds in values.items():
        for seed, value in enumerate(seeds, start=1):
            write_record(records, env, variant, seed, value)
    report.main(report.Args(records=records, out=tmp_path / "out", readme=tmp_path / "absent.md"))
    text = (tmp_path / "out" / "table.md").read_text()
    assert report.report_stats.VERDICT_RULE in text  # the rule, stated with the verdicts
    assert "`scipy.stats.bootstrap`" in text
    assert (
        "including episodes begun" not in text
        and "episodes begun under the previous policy" in text
    )
    claims = [
        line.split(" | ")
        for line in text.splitlines()
        if line.startswith("| PPO > PPO-M") or "TRPO+ > TRPO" in line
    ]
    verdicts = {
        (cells[1], cells[0].lstrip("| ").split(":")[0]): (cells[4], cells[5]) for cells in claims
    }
    clear = verdicts["Walker2d-v4", "PPO > PPO-M"]
    assert (
        clear[0] == clear[1]
        and clear[0].startswith("+2000 [18")
        and clear[0].endswith("P=1.00: **holds**")
    )
    none = verdicts["Walker2d-v4", "TRPO+ > TRPO"]
    assert none[0] == none[1] and none[0].startswith("0 [") and none[0].endswith("**no evidence**")
    outlier = verdicts["Hopper-v4", "PPO > PPO-M"]
    assert outlier[0].startswith("+950 [-") and outlier[0].endswith("**no evidence**")
    # The summary says the same, in its own layout, and so does nothing else by hand.
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert (
        f"| PPO > PPO-M, best iteration | **holds** {clear[0].split(':')[0]} (paper: +557) |"
        in summary
    )
    assert "(3 seeds per cell, 24576 steps each)" in summary
    assert "[table.md](table.md#claims-and-verdicts)" in summary


def ablation_name(combination):
    bits = zip(report.ABLATION_SWITCHES, combination, strict=True)
    return "ablation_" + "_".join(f"{switch}{int(on)}" for switch, on in bits)


def test_ablation_from_synthetic_records(tmp_path):
    records = tmp_path / "records"
    # A made-up world: reward scaling +300, annealing +100, init +50, value clipping nothing;
    # each seed adds the same to every configuration, so every on-minus-off pair shows the
    # effect exactly.
    effects = {"clip_vloss": 0, "scale_reward": 300, "ortho_init": 50, "anneal_lr": 100}
    missing = {(2, (False, True, True, False)), (2, (True, True, True, True))}  # not run (yet)
    for seed in (1, 2):
        for number in range(16):
            combination = tuple(bool(number >> i & 1) for i in range(4))
            if (seed, combination) in missing:
                continue
            value = (
                1000
                + 10 * seed
                + sum(effects[s] for s, on in zip(effects, combination, strict=True) if on)
            )
            write_record(records, "Walker2d-v4", ablation_name(combination), seed, value)
    readme = tmp_path / "README.md"
    readme.write_text("\n".join(report.README_BLOCKS["results-summary"]) + "\n")
    report.main(report.Args(records=records, out=tmp_path / "out", readme=readme))
    out = tmp_path / "out"
    assert not (out / "table.md").exists()
    text = (out / "ablation.md").read_text()
    assert report.NO_LR_SWEEP in text and report.report_stats.VERDICT_RULE in text
    # The grid: 30 of 2 x 16 runs; each missing run takes one pair from every switch (the two
    # missing runs differ in two switches, so they are not a pair): 16 - 2 = 14 pairs of 8 x 2.
    grid = table_rows(text, "The grid")
    pairs = "`--clip-vloss` 14, `--scale-reward` 14, `--ortho-init` 14, `--anneal-lr` 14 (of 16)"
    assert grid["Walker2d-v4"] == ["30 of 32 (16 x seeds 1, 2)", pairs, "seed 2: 1111, 0110"]
    effect = table_rows(text, "Walker2d-v4: effect of turning each switch on")
    assert effect["`--scale-reward` raises the return"] == [
        "up",
        *["+300 [300, 300], P=1.00: **holds**"] * 2,
        "14",
        "as the paper",
    ]
    assert effect["`--anneal-lr` raises the return"][1] == "+100 [100, 100], P=1.00: **holds**"
    assert effect["`--ortho-init` raises the return"][1] == "+50 [50, 50], P=1.00: **holds**"
    # No effect at all: a statistic of 0 in every resample, P 1/2 by the tie rule.
    assert effect["`--clip-vloss` raises the return"] == [
        "no gain",
        *["0 [0, 0], P=0.50: **no evidence**"] * 2,
        "14",
        "as the paper",
    ]
    # Apart with reward scaling on and off: the made-up effects add up, so the same either way;
    # both missing runs have scaling on, and each takes one pair from every other switch.
    assert report.SCALING_SPLIT in text
    split = table_rows(text, "Walker2d-v4: the effect with reward scaling on and off")
    assert split["`--ortho-init` raises the return"] == [
        *["+50 [50, 50], P=1.00: **holds**"] * 2,
        "6 / 8",
    ]
    assert split["`--clip-vloss` raises the return"][2] == "6 / 8"
    assert "`--scale-reward` raises the return" not in split
    assert (out / "ablation_Walker2d-v4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "![Walker2d-v4: ablation](ablation_Walker2d-v4.png)" in summary
    assert (
        "- reward scaling raises the return (paper: up): **holds** +300 [300, 300], P=1.00;"
        in summary
    )
    assert "30 of 32 runs; missing" in summary and "seed 2: 1111, 0110" in summary
    # The README's block: the grid's count, the no-sweep caveat, one line per switch, the figure.
    lines = readme_block(readme.read_text(), "results-summary").splitlines()
    assert "(Walker2d-v4: 30 of 32 runs, seeds 1, 2)" in lines[0] and report.NO_LR_SWEEP in lines[0]
    assert lines[1:5] == [
        "  - value clipping raises the return (paper: no gain): Walker2d-v4 **no evidence** "
        "0 [0, 0], P=0.50 (14 pairs), as the paper (with reward scaling: **no evidence** "
        "0 [0, 0], P=0.50; without: **no evidence** 0 [0, 0], P=0.50).",
        "  - reward scaling raises the return (paper: up): Walker2d-v4 **holds** "
        "+300 [300, 300], P=1.00 (14 pairs), as the paper.",
        "  - orthogonal init raises the return (paper: up): Walker2d-v4 **holds** "
        "+50 [50, 50], P=1.00 (14 pairs), as the paper.",
        "  - learning-rate annealing raises the return (paper: up): Walker2d-v4 **holds** "
        "+100 [100, 100], P=1.00 (14 pairs), as the paper.",
    ]
    assert lines[5:] == ["", "![Walker2d-v4: ablation](out/ablation_Walker2d-v4.png)"]


def test_pair_counts_read_as_english():
    assert report.pairs_text(1) == "1 pair"
    assert report.pairs_text(0) == "0 pairs" and report.pairs_text(14) == "14 pairs"


@pytest.mark.parametrize(
    "switch, word, reading, short",
    [
        ("scale_reward", "holds", "as the paper", "agrees"),
        ("scale_reward", "leans", "the paper's gain not shown", "not shown"),
        ("scale_reward", "contradicted", "against the paper; it lowers the return", "disagrees"),
        ("clip_vloss", "holds", "against the paper: a gain", "disagrees"),
        ("clip_vloss", "leans", "as the paper", "agrees"),
        ("clip_vloss", "contradicted", "as the paper; it lowers the return", "agrees"),
        ("clip_vloss", "too few runs", "too few runs to tell", "not shown"),
    ],
)
def test_a_verdict_reads_against_the_papers_reading_of_its_switch(switch, word, reading, short):
    # "up" (reward scaling) is borne out by holds alone; "no gain" (value clipping) by all else.
    verdict = types.SimpleNamespace(word=word)
    assert report.paper_reading(switch, verdict) == reading
    assert report.paper_reading(switch, verdict, short=True) == short


def readme_block(text, name):
    """The text between a README block's marker lines, without them."""
    first, last = report.README_BLOCKS[name]
    return text[text.index(first) + len(first) + 1 : text.index(last)]


def test_readme_blocks_go_between_their_markers(tmp_path, capsys):
    records = tmp_path / "records"
    for seed in (1, 2):
        for variant, value in (
            ("ppo_continuous", 3000),
            ("ppo_m", 2000),
            ("trpo", 1000),
            ("trpo_plus", 1500),
        ):
            write_record(records, "Hopper-v4", variant, seed, value + seed)
    readme = tmp_path / "README.md"
    before, middle, after = "# A project\n\n", "\nSome text.\n\n", "\n## After\n\nMore text.\n"
    old = (
        before
        + f"{report.HEADLINE_START}\nold, by hand\n{report.HEADLINE_END}"
        + middle
        + f"{report.SUMMARY_START}\nold, hand-written\n{report.SUMMARY_END}"
        + after
    )
    readme.write_text(old)
    out = tmp_path / "results"
    report.main(report.Args(records=records, out=out, readme=readme))
    text = readme.read_text()
    headline, block = readme_block(text, "headline"), readme_block(text, "results-summary")
    assert "by hand" not in text and "hand-written" not in text
    assert text == (
        f"{before}{report.HEADLINE_START}\n{headline}{report.HEADLINE_END}{middle}"
        f"{report.SUMMARY_START}\n{block}{report.SUMMARY_END}{after}"
    )
    # The headline: its lead (with the rule), then the three findings, one line each.
    assert headline.splitlines()[0].endswith(report.HEADLINE_RULE)
    assert [line.split("**")[1] for line in headline.splitlines()[2:]] == [
        finding for finding, *_ in report.HEADLINE_CLAIMS
    ]
    # The results block is short, links what it leaves out, and every cell in it is a cell of
    # summary.md's table (best iteration), with n instead of P.
    assert len(block.splitlines()) <= 14
    for link in ("results/summary.md", "results/records/", "results/table.md#claims-and-verdicts"):
        assert f"]({link})" in block
    summary = (out / "summary.md").read_text()
    acli = "**contradicted** -500 [-501, -499]"
    assert f"| ACLI > AAI, best iteration | {acli}, P=0.00 (paper: +324) |" in summary
    assert f"Hopper-v4 {acli} (n=2)." in block
    for name in ("PPO > PPO-M", "TRPO+ > TRPO", "PPO's max ratio > 1 + eps = 1.2"):
        kind = "" if name.startswith("PPO's") else ", best iteration"
        cell = next(row for row in summary.splitlines() if row.startswith(f"| {name}{kind} |"))
        assert f"Hopper-v4 {cell.split(' | ')[1].split(', P=')[0]} (n=2)." in block
    # PPO (3001.5 on average) is above the paper's 2632, the other three far below theirs.
    paper = "holds in 1, contradicted in 3 of 4 cells"
    assert f"- Our mean above the upper end of the paper's interval: {paper}." in block
    # Run again: the same README, byte for byte.
    report.main(report.Args(records=records, out=out, readme=readme))
    assert readme.read_text() == text
    # Without one pair of markers, the other block only, and a note; without both, summary.md only.
    capsys.readouterr()
    readme.write_text(old.replace(report.HEADLINE_END, ""))
    report.main(report.Args(records=records, out=out, readme=readme))
    assert readme.read_text() == old.replace(report.HEADLINE_END, "").replace(
        "old, hand-written\n", block
    )
    assert "has no headline marker lines" in capsys.readouterr().err
    readme.write_text(before)
    report.main(report.Args(records=records, out=out, readme=readme))
    assert readme.read_text() == before
    err = capsys.readouterr().err
    assert "has no headline marker lines" in err and "has no results-summary marker lines" in err


def test_headline_selection_rule_on_synthetic_records(tmp_path):
    """The rule: the paper's environments at their oldest version, the verdicts counted, and the
    one where the claim fares worst shown (the lowest P, then the lowest end of the interval)."""
    records = tmp_path / "records"
    low, mid, high = [1000, 1100, 1200], [2000, 2100, 2200], [3000, 3100, 3200]
    values = {
        # ACLI - AAI = 2000 - 1000: holds. PPO's max ratio 2.0: 0.8 above 1 + eps.
        "Walker2d-v4": ({"ppo_continuous": high, "ppo_m": low, "trpo": mid, "trpo_plus": mid}, 2.0),
        # Four alike: ACLI - AAI is 0, as likely above 0 as below. Max ratio 0.3 above 1 + eps.
        "Hopper-v4": ({v: [1000, 1050, 1100] for v in report.TABLE_1}, 1.5),
        # The worst of every claim, were it not a newer version of Walker2d-v4: ACLI - AAI = -2000,
        # the max ratio only 0.05 above the bound, PPO-M's return the farthest below the paper's.
        "Walker2d-v5": (
            {
                "ppo_continuous": [500, 600, 700],
                "ppo_m": [500, 600, 700],
                "trpo": [2500, 2600, 2700],
                "trpo_plus": [2500, 2600, 2700],
            },
            1.25,
        ),
    }
    for env, (variants, max_ratio) in values.items():
        for variant, seeds in variants.items():
            for seed, value in enumerate(seeds, start=1):
                write_record(records, env, variant, seed, value, max_ratio=max_ratio)
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.HEADLINE_START}\n{report.HEADLINE_END}\n")
    report.main(report.Args(records=records, out=tmp_path / "out", readme=readme))
    headline = readme_block(readme.read_text(), "headline")
    assert "Walker2d-v5" not in headline
    assert "each at the oldest version run (Walker2d-v4, Hopper-v4: 24 finished runs, " in headline
    acli, ratio, paper = headline.splitlines()[2:]
    assert acli.startswith(
        "- **The optimizations matter more than the choice of PPO or TRPO**: holds in 1, no "
        "evidence in 1 of 2 environments; worst, Hopper-v4: ACLI - AAI = 0 ["
    )
    assert acli.endswith("(n=3), P=0.50, **no evidence** (paper: +324).")
    assert ratio == (
        "- **Clipping does not keep PPO's ratio within 1 + eps**: holds in 2 of 2 environments; "
        "worst, Hopper-v4: max ratio - (1 + eps) = +0.30 [0.30, 0.30] (n=3), P=1.00, **holds**."
    )
    # Every cell is below the paper's interval (P = 0 in each): the lowest end of the interval
    # decides, PPO-M on Walker2d-v4, 1100 - 2866 on average, 1000 - 2866 at the lowest.
    assert paper.startswith(
        "- **Our returns are above the paper's**: contradicted in 8 of 8 cells; worst, Walker2d-v4 "
        "PPO-M: our mean - the upper end of the paper's interval = -1766 [-1866, "
    )
    assert paper.endswith("(n=3), P=0.00, **contradicted**.")


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
    report.main(report.Args(records=results / "records", out=out, readme=tmp_path / "README.md"))
    for name in ("table.md", "ablation.md", "summary.md"):
        if (results / name).exists():
            assert (out / name).read_text() == (results / name).read_text(), (
                f"{name} does not regenerate"
            )
    readme = (ROOT / "README.md").read_text()
    if report.SUMMARY_START in readme:
        assert (tmp_path / "README.md").read_text() == readme, (
            "the README's results summary does not regenerate"
        )


# ==================================================================================================
# The report on what it should not trust: broken records and event files, Ctrl-C, a full disk
# ==================================================================================================
def record_text(run="Hopper-v5__trpo__1__1700000000", iterations=3, batch_size=BATCH):
    """A record as write_record writes it: every iteration with two episodes and TRPO's columns."""
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
    assert (
        table_rows(table, "Table 1. Best iteration")["TRPO (`trpo`)"][0] == "103 [103, 103] (n=1)"
    )


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
    assert (
        table_rows(table, "Table 1. Best iteration")["TRPO (`trpo`)"][0] == "724 [724, 724] (n=1)"
    )


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
    # Fill the disk but for 64 KiB: the records and table.md fit, the first figure does not.
    largest_figure = max(len(data) for path, data in before.items() if path.suffix == ".png")
    assert largest_figure > 64 * 1024
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))
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
    best = table_rows((out / "table.md").read_text(), "Table 1. Best iteration")
    for variant in variants:
        mean, low, high = parse_cell(best[f"{report.VARIANT_LABELS[variant]} (`{variant}`)"][0])
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
