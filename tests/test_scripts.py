"""End-to-end: each variant run as a user runs it, on a few hundred Hopper-v5 steps."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, TINY, load, read_scalars, run_dirs, run_script

SHARED_TAGS = {
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/SPS",
    "charts/learning_rate",
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/explained_variance",
    "trust_region/mean_kl",
    "trust_region/max_ratio",
}
PPO_TAGS = {"losses/clipfrac"}
TRPO_TAGS = {
    "trpo/line_search_steps",
    "trpo/accepted",
    "trpo/expected_improvement",
    "trpo/actual_improvement",
    "trpo/kl_after_step",
}


def test_smoke_run_logs_every_tag(variant, tmp_path):
    """Smoke test: a tiny run exits cleanly, its event file holding every tag the variants share."""
    result = run_script(variant, *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "iter 4/4" in result.stdout and "SPS" in result.stdout  # the progress line
    (run_dir,) = run_dirs(tmp_path)
    assert run_dir.name.startswith(f"Hopper-v5__{variant}__1__")
    scalars = read_scalars(run_dir)
    expected = SHARED_TAGS | (PPO_TAGS if variant.startswith("ppo") else TRPO_TAGS)
    assert expected <= set(scalars), expected - set(scalars)
    assert len(scalars["trust_region/mean_kl"]) == 4  # one per iteration
    assert [step for step, _ in scalars["trust_region/mean_kl"]] == [128, 256, 384, 512]
    assert all(length >= 1 for _, length in scalars["charts/episodic_length"])


def test_same_seed_gives_identical_scalars(variant, tmp_path):
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        result = run_script(variant, *TINY, "--seed", "7", cwd=tmp_path / name)
        assert result.returncode == 0, result.stderr
        (run_dir,) = run_dirs(tmp_path / name)
        scalars = read_scalars(run_dir)
        del scalars["charts/SPS"]  # wall-clock speed is the one thing allowed to differ
        runs.append(scalars)
    assert runs[0] == runs[1]
    # and another seed gives other numbers
    (tmp_path / "c").mkdir()
    assert run_script(variant, *TINY, "--seed", "8", cwd=tmp_path / "c").returncode == 0
    other = read_scalars(run_dirs(tmp_path / "c")[0])
    assert other["losses/value_loss"] != runs[0]["losses/value_loss"]


def test_time_limit_episodes_are_logged_reset_and_bootstrapped(variant, tmp_path):
    """Pendulum-v1 ends every episode by its 200-step time limit, never by a termination. The script
    must log each episode at the limit and go on into the next one (it resets the env itself); by
    default the cut episode is bootstrapped, which the released semantics
    (--time-limit-as-termination) do not do, so the first update's value loss differs while the
    first rollout, taken before any update, does not."""
    pendulum = [
        "--env-id",
        "Pendulum-v1",
        "--total-timesteps",
        "1024",
        "--num-steps",
        "256",
        "--num-minibatches",
        "4",
    ]
    runs = {}
    for name, extra in (("bootstrap", []), ("termination", ["--time-limit-as-termination"])):
        (tmp_path / name).mkdir()
        result = run_script(variant, *pendulum, "--update-epochs", "1", *extra, cwd=tmp_path / name)
        assert result.returncode == 0, result.stderr
        runs[name] = read_scalars(run_dirs(tmp_path / name)[0])
    for scalars in runs.values():
        assert scalars["charts/episodic_length"] == [
            (step, 200.0) for step in (200, 400, 600, 800, 1000)
        ]
        # a Pendulum reward lies in [-16.3, 0]: a return over 200 steps in [-3260, 0]
        assert all(
            -3260 <= episodic_return <= 0
            for _, episodic_return in scalars["charts/episodic_return"]
        )
    first_return = [scalars["charts/episodic_return"][0] for scalars in runs.values()]
    assert first_return[0] == first_return[1]
    first_value_loss = [scalars["losses/value_loss"][0][1] for scalars in runs.values()]
    assert first_value_loss[0] != first_value_loss[1]


def bad_inputs(variant):
    ppo = variant.startswith("ppo")
    step_size = ["--learning-rate", "-0.001"] if ppo else ["--max-kl", "-0.01"]
    # Advantages are normalized by their std: per minibatch in PPO, over the whole batch in TRPO.
    one_sample = (["--num-steps", "64", "--num-minibatches", "64"], "at most half of --num-steps")
    if not ppo:
        one_sample = (
            ["--num-steps", "1", "--num-minibatches", "1"],
            "--num-steps must be at least 2",
        )
    out_of_range = (
        ["--clip-coef", "0"] if ppo else ["--accept-ratio", "5"]
    )  # 5: no TRPO step would be taken
    infinite = (
        ["--ent-coef", "inf"] if ppo else ["--max-kl", "inf"]
    )  # (a negative --ent-coef is allowed)
    return {
        "unknown env": (["--env-id", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
        "discrete actions": (["--env-id", "CartPole-v1"], "Discrete"),
        "indivisible batch": (["--num-steps", "100", "--num-minibatches", "32"], "num-minibatches"),
        "no steps": (["--total-timesteps", "0"], "total-timesteps"),
        "negative step count": (["--num-steps", "-5"], "num-steps"),
        "one-sample minibatches": one_sample,
        "negative seed": (["--seed", "-1"], "seed"),
        "negative step size": (step_size, step_size[0]),
        "zero value learning rate": (["--value-learning-rate", "0"], "value-learning-rate"),
        "NaN discount": (["--gamma", "nan"], "--gamma must be a finite number, got nan"),
        "GAE lambda above 1": (["--gae-lambda", "1.5"], "--gae-lambda must be in [0, 1]"),
        "policy-step constant out of range": (out_of_range, out_of_range[0]),
        "infinite policy-step constant": (infinite, f"{infinite[0]} must be a finite number"),
    }


@pytest.mark.parametrize(
    "case",
    list(bad_inputs("ppo")),
)
def test_bad_input_gives_one_sentence_and_nonzero_exit(variant, case, tmp_path):
    args, mentioned = bad_inputs(variant)[case]
    result = run_script(variant, *args, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert mentioned in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.mark.parametrize("blocker", ["runs is a file", "read-only directory"])
def test_unwritable_run_directory_fails_before_training(variant, blocker, tmp_path):
    if blocker == "runs is a file":
        (tmp_path / "runs").write_text("")
    elif os.geteuid() == 0:
        pytest.skip("root writes into a read-only directory")
    else:
        tmp_path.chmod(0o555)
    result = run_script(variant, *TINY, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "iter 1/" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot create the run directory runs/"
    ), result.stderr


def test_batch_that_does_not_divide_the_steps_is_announced(variant, tmp_path):
    # 300 steps in batches of 128: two iterations, 256 steps, and the user is told so at the start.
    args = [*TINY[2:], "--total-timesteps", "300"]
    if variant.startswith("ppo"):
        args += [
            "--ent-coef",
            "-0.01",
        ]  # a negative entropy coefficient is allowed: PPO-NoClip's released configs
    result = run_script(variant, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    note = "note: 300 steps round down to 2 batches"
    assert result.stdout.splitlines()[0] == note
    assert "iter 2/2" in result.stdout and "iter 3" not in result.stdout


def test_checkpoint_round_trip_and_evaluation(variant, tmp_path):
    result = run_script(variant, *TINY, "--save-model", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_dirs(tmp_path)
    path = run_dir / f"{variant}.pt"
    assert f"evaluate it with: python evaluate.py {path.relative_to(tmp_path)}" in result.stdout
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["script"] == f"{variant}.py"  # evaluate.py rebuilds the policy with it
    # The observation statistics travel with the weights: one reset observation plus one per step.
    assert checkpoint["obs_rms"]["count"] == 1 + 512
    assert (
        checkpoint["args"]["env_id"] == "Hopper-v5" and checkpoint["args"]["total_timesteps"] == 512
    )
    assert not list(run_dir.glob("*.tmp"))  # written under a temporary name, then renamed

    # evaluate.py: the deterministic policy with frozen statistics, the same returns every time.
    result = run_script("evaluate", str(path), "--episodes", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "eval: 3 episodes" in result.stdout and f"({variant}.py) on Hopper-v5" in result.stdout
    evaluate = load("evaluate")
    module, loaded, args = evaluate.load_checkpoint(str(path))
    returns = evaluate.evaluate(module, loaded, args, 3, seed=1)
    assert returns == evaluate.evaluate(module, loaded, args, 3, seed=1)
    assert f"return {sum(returns) / 3:.1f}" in result.stdout
    # The weights under another script's name are refused: its observation pipeline may differ.
    other = {
        "ppo_m": "ppo_continuous",
        "ppo_continuous": "ppo_m",
        "trpo": "trpo_plus",
        "trpo_plus": "trpo",
    }
    torch.save({**checkpoint, "script": f"{other[variant]}.py"}, tmp_path / "relabelled.pt")
    refused = run_script("evaluate", "relabelled.pt", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"does not hold a checkpoint of {other[variant]}.py" in refused.stderr


def start(variant, *args, cwd):
    return subprocess.Popen(
        [sys.executable, str(ROOT / f"{variant}.py"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PATH": ""},
        # A shell without job control starts `pytest ... &` with SIGINT ignored, and a child
        # inherits that: give the script the default disposition a user's terminal gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_flushes_logs_and_saves(variant, tmp_path):
    args = [*TINY[2:], "--total-timesteps", "1000000", "--save-model"]
    process = start(variant, *args, cwd=tmp_path)
    for line in process.stdout:
        if line.startswith("iter 2/"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr  # saved and flushed, but not a finished run
    assert "Traceback" not in stderr
    (run_dir,) = run_dirs(tmp_path)
    assert (run_dir / f"{variant}.pt").exists()
    iterations = len(read_scalars(run_dir)["trust_region/mean_kl"])
    assert 2 <= iterations < 10


def test_sigterm_finishes_the_iteration_saves_and_exits_143(variant, tmp_path):
    """A cluster ends a job at its time limit with SIGTERM: the run stops as at a first Ctrl-C."""
    process = start(
        variant, *TINY[2:], "--total-timesteps", "1000000", "--save-model", cwd=tmp_path
    )
    for line in process.stdout:
        if line.startswith("iter 2/"):
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr  # 128 + SIGTERM: saved, but not a finished run
    assert "SIGTERM: stopping after this iteration" in stdout and "Traceback" not in stderr
    (run_dir,) = run_dirs(tmp_path)
    checkpoint = torch.load(run_dir / f"{variant}.pt", weights_only=True)
    iterations = len(read_scalars(run_dir)["trust_region/mean_kl"])
    assert 2 <= iterations < 10
    assert checkpoint["obs_rms"]["count"] == 1 + 128 * iterations  # the model of the last iteration


def test_second_ctrl_c_stops_at_once_without_saving(variant, tmp_path):
    # Iterations of 2048 steps: the second Ctrl-C lands while the first still waits for its
    # iteration to end.
    args = ["--total-timesteps", "100000", "--update-epochs", "1", "--save-model"]
    process = start(variant, *args, cwd=tmp_path)
    for line in process.stdout:
        if line.startswith("iter 1/"):
            break
    time.sleep(0.2)  # into the next iteration's rollout
    process.send_signal(signal.SIGINT)
    for line in process.stdout:
        if line.startswith("Ctrl-C: stopping after this iteration"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    # Ended by the signal itself, as an unhandled Ctrl-C ends a program: a shell reports 130.
    assert process.returncode == -signal.SIGINT, stderr
    assert stderr == "" and "iter 2/" not in stdout
    (run_dir,) = run_dirs(tmp_path)
    assert not list(run_dir.glob("*.pt*"))  # nothing saved, nothing half-saved


def test_nan_loss_stops_the_run_naming_the_iteration(variant, tmp_path):
    # A value learning rate of 1e30 sends the value net's weights, and so its loss, to inf/NaN
    # at once.
    result = run_script(variant, *TINY, "--value-learning-rate", "1e30", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "at iteration 1" in result.stderr


def test_ctrl_c_after_sigterm_aborts_at_once(tmp_path):
    """A second signal of either kind stops at once: a Ctrl-C after the cluster's SIGTERM, say."""
    process = start("ppo_m", "--total-timesteps", "100000", "--update-epochs", "1", cwd=tmp_path)
    for line in process.stdout:
        if line.startswith("iter 1/"):
            break
    time.sleep(0.2)  # into the next iteration's rollout
    process.send_signal(signal.SIGTERM)
    for line in process.stdout:
        if line.startswith("SIGTERM: stopping after this iteration"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGINT, stderr
    assert stderr == "" and "iter 2/" not in stdout
