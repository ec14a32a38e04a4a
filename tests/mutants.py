"""Applies wrong versions of the algorithm to the scripts one at a time, and runs the tests on each.

Not a test file (pytest does not collect it): a tool to show that the tests catch the bugs a reader
could introduce. For each mutant and each script whose source holds its text, it copies the scripts
to a temporary folder, replaces the text in that one, runs that script's fast tests on the copy
(each file stands alone, so each is tested on its own) until one fails, and reports it (caught) or
that none did (UNCAUGHT). Each script is first run unchanged, so that a failure means the mutant,
not a broken copy.

    python tests/mutants.py                      # every mutant, every script it applies to
    python tests/mutants.py gae_gamma_squared    # some of them, by name
    python tests/mutants.py --list

Exit code 1 if a mutant is uncaught, or a mutant's text is in none of the scripts (the code moved:
update the mutant). The tests run in this one process (torch is imported once): about 15 s per
mutant and script on a busy 2-core machine, some 25 minutes for all of them.
"""

import argparse
import contextlib
import io
import os
import pathlib
import sys
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
os.environ["OMP_NUM_THREADS"] = "1"  # before the tests import torch

SCRIPTS = ["ppo_m", "ppo_continuous", "trpo", "trpo_plus"]
# The new tests first: with -x, pytest stops at the first failure.
TESTS = ["tests/test_algorithm_bugs.py", "tests/test_units.py", "tests/test_trpo.py"]

OBS_UPDATE = """\
            if args.norm_obs:
                obs_rms.update(next_obs_raw)
            next_obs = normalize_obs(next_obs_raw, obs_rms, args)
"""
EPISODE_SUMS = "            episode_return += reward\n            episode_length += 1\n"
SCALE_THEN_CLIP = """\
            if args.scale_reward:  # Optimization 2 (reward scaling), see RewardScaler
                reward = reward_scaler(reward, done)
            # Optimization 5 (reward clipping): bound each (scaled) reward; the released code clips
            # inside its reward scaler, so there it is on exactly when scaling is.
            if args.clip_reward:
                reward = np.clip(reward, -args.clip_reward_bound, args.clip_reward_bound)
"""
ACCEPT_TEST = """\
            kl <= args.max_kl
            and improvement > 0
            and improvement / (fraction * expected_improvement) > args.accept_ratio
"""

# (name, what a reader got wrong, the right text, the wrong text)
MUTANTS = [
    # ---- the bugs of issue 32 ----
    (
        "gae_gamma_squared",
        "GAE decays by gamma * gamma instead of gamma * lambda",
        "gamma * gae_lambda * (1.0 - dones[t])",
        "gamma * gamma * (1.0 - dones[t])",
    ),
    (
        "ratio_clip_above_only",
        "PPO's ratio clipped from above only",
        "torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)",
        "torch.clamp(ratio, max=1.0 + clip_coef)",
    ),
    (
        "value_clip_above_only",
        "the value clip from above only",
        "torch.clamp(newvalue - oldvalue, -clip_coef, clip_coef)",
        "torch.clamp(newvalue - oldvalue, max=clip_coef)",
    ),
    (
        "line_search_without_accept_ratio",
        "the line search accepts any improvement, whatever its forecast",
        ACCEPT_TEST,
        ACCEPT_TEST.replace(
            "            and improvement / (fraction * expected_improvement) > args.accept_ratio\n",
            "",
        ),
    ),
    (
        "line_search_kl_up_to_2_delta",
        "the line search accepts a mean KL up to 2 * delta",
        "kl <= args.max_kl",
        "kl <= 2 * args.max_kl",
    ),
    (
        "line_search_kl_up_to_1.1_delta",
        "the line search accepts a mean KL up to 1.1 * delta",
        "kl <= args.max_kl",
        "kl <= 1.1 * args.max_kl",
    ),
    (
        "lr_anneal_one_iteration_off",
        "the anneal is 1 - k/N instead of 1 - (k-1)/N",
        "frac = 1.0 - (iteration - 1.0) / args.num_iterations",
        "frac = 1.0 - iteration / args.num_iterations",
    ),
    (
        "truncation_bootstrap_from_obs_before_step",
        "a truncated step bootstrapped from the observation before the step",
        "final_obs[step] = normalize_obs(next_obs_raw, obs_rms, args)",
        "final_obs[step] = next_obs",
    ),
    # ---- other wrong versions a reader could write ----
    (
        "gae_lambda_squared",
        "GAE decays by lambda * lambda",
        "gamma * gae_lambda * (1.0 - dones[t])",
        "gae_lambda * gae_lambda * (1.0 - dones[t])",
    ),
    (
        "gae_recursion_crosses_truncations",
        "the GAE recursion stops at terminations only, leaking across a time-limit cut",
        "(1.0 - dones[t]) * lastgaelam",
        "(1.0 - terminations[t]) * lastgaelam",
    ),
    (
        "gae_no_bootstrap_after_truncation",
        "no bootstrap after a truncation (the time limit as a true end)",
        "next_values[t] * (1.0 - terminations[t])",
        "next_values[t] * (1.0 - dones[t])",
    ),
    (
        "time_limit_stored_as_termination",
        "the loop stores done as the termination",
        "rewards[step], terminations[step], truncations[step] = reward, termination, truncation",
        "rewards[step], terminations[step], truncations[step] = reward, done, truncation",
    ),
    (
        "rollout_end_bootstrapped_from_last_value",
        "the rollout's end bootstrapped from V(last obs) instead of V(next obs)",
        "next_value = critic(torch.from_numpy(next_obs))[None].numpy()",
        "next_value = values[-1:]",
    ),
    (
        "value_target_without_values",
        "the value target is the advantage alone",
        "returns = advantages + values",
        "returns = advantages",
    ),
    (
        "surrogate_max_not_min",
        "PPO's surrogate takes the max of the two terms",
        "-torch.min(unclipped, clipped)",
        "-torch.max(unclipped, clipped)",
    ),
    (
        "value_clip_min_not_max",
        "the clipped value loss takes the min of the two errors",
        "torch.max((newvalue - returns) ** 2",
        "torch.min((newvalue - returns) ** 2",
    ),
    (
        "ppo_advantages_normalized_over_the_batch",
        "PPO normalizes each minibatch's advantages by the whole batch's mean and std",
        "(mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)",
        "(mb_adv - b_advantages.mean()) / (b_advantages.std() + 1e-8)",
    ),
    (
        "ppo_advantages_not_scaled",
        "PPO centres the advantages but does not divide by their std",
        "(mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)",
        "(mb_adv - mb_adv.mean())",
    ),
    (
        "trpo_advantages_not_scaled",
        "TRPO centres the advantages but does not divide by their std",
        "(b_advantages - b_advantages.mean()) / (b_advantages.std() + 1e-8)",
        "(b_advantages - b_advantages.mean())",
    ),
    (
        "episodic_return_of_the_scaled_reward",
        "charts/episodic_return sums the scaled, clipped rewards",
        EPISODE_SUMS + "\n" + SCALE_THEN_CLIP,
        SCALE_THEN_CLIP + EPISODE_SUMS,
    ),
    (
        "reward_scaler_reset_at_terminations_only",
        "the reward scaler's return is not reset when the time limit cuts an episode",
        "reward = reward_scaler(reward, done)",
        "reward = reward_scaler(reward, termination)",
    ),
    (
        "reward_clipped_before_scaling",
        "the raw reward is clipped, then scaled",
        SCALE_THEN_CLIP,
        "\n".join(SCALE_THEN_CLIP.splitlines()[2:] + SCALE_THEN_CLIP.splitlines()[:2]) + "\n",
    ),
    (
        "obs_normalized_before_update",
        "each observation normalized before the statistics are updated with it",
        OBS_UPDATE,
        "\n".join(OBS_UPDATE.splitlines()[2:] + OBS_UPDATE.splitlines()[:2]) + "\n",
    ),
    (
        "entropy_sign_flipped",
        "the entropy bonus subtracted from the objective",
        "(pg_loss - args.ent_coef * entropy).backward()",
        "(pg_loss + args.ent_coef * entropy).backward()",
    ),
    (
        "policy_grad_clip_missing",
        "--clip-grad-norm does nothing (PPO's policy)",
        "nn.utils.clip_grad_norm_(actor.parameters(), args.max_grad_norm)",
        "pass",
    ),
    (
        "value_grad_clip_missing",
        "--clip-grad-norm does nothing (TRPO+'s value net)",
        "nn.utils.clip_grad_norm_(critic.parameters(), args.max_grad_norm)",
        "pass",
    ),
    (
        "value_lr_not_annealed",
        "the anneal forgets the value net's learning rate",
        'critic_optimizer.param_groups[0]["lr"] = frac * args.value_learning_rate',
        "pass",
    ),
    (
        "action_std_is_logstd",
        "actions drawn with std = logstd instead of exp(logstd)",
        "torch.normal(mean, actor.logstd.exp())",
        "torch.normal(mean, actor.logstd)",
    ),
    (
        "action_is_the_mean",
        "the rollout acts with the mean, without exploring",
        "action = torch.normal(mean, actor.logstd.exp()).numpy()",
        "action = mean.numpy()",
    ),
    (
        "adam_eps_ignored",
        "Adam built with torch's default eps (1e-8) instead of --adam-eps",
        "adam = dict(eps=args.adam_eps, fused=True)",
        "adam = dict(fused=True)",
    ),
    (
        "line_search_ratio_to_the_full_forecast",
        "the line search compares each step's gain with the full step's forecast",
        "improvement / (fraction * expected_improvement)",
        "improvement / expected_improvement",
    ),
    (
        "line_search_keeps_a_rejected_step",
        "the line search gives up without restoring the old parameters",
        "    nn.utils.vector_to_parameters(old_params, actor.parameters())\n    return False",
        "    return False",
    ),
    (
        "line_search_kl_reversed",
        "the line search bounds KL(new || old) instead of KL(old || new)",
        "kl = gaussian_kl(old_mean, old_logstd, mean, actor.logstd)",
        "kl = gaussian_kl(mean, actor.logstd, old_mean, old_logstd)",
    ),
    (
        "fisher_damping_missing",
        "the Fisher-vector product without its damping",
        "flat_grad(grad_kl @ v, params, retain_graph=True) + damping * v",
        "flat_grad(grad_kl @ v, params, retain_graph=True)",
    ),
    (
        "cg_residual_update_wrong",
        "conjugate gradient updates the residual with p instead of A p",
        "r -= alpha * Ap",
        "r -= alpha * p",
    ),
    (
        "cg_beta_inverted",
        "conjugate gradient's beta upside down",
        "p = r + (rr_new / rr) * p",
        "p = r + (rr / rr_new) * p",
    ),
    (
        "trpo_step_scale_without_2",
        "the step scaled to 1/2 s^T F s = delta / 2",
        "np.sqrt(2.0 * args.max_kl / shs)",
        "np.sqrt(args.max_kl / shs)",
    ),
    (
        "trpo_expected_improvement_of_the_direction",
        "the forecast from the unscaled CG direction instead of the full step",
        "expected_improvement = (g @ full_step).item()",
        "expected_improvement = (g @ step_dir).item()",
    ),
    (
        "trust_region_kl_reversed",
        "the logged trust_region/mean_kl as KL(new || old)",
        "gaussian_kl(b_means, old_logstd, new_means, actor.logstd)",
        "gaussian_kl(new_means, actor.logstd, b_means, old_logstd)",
    ),
]


class OneScript:
    """A pytest plugin: keeps only the tests of one script (and those of none in particular),
    points the tests' loader (conftest.load, which reads ROOT / f"{name}.py") at the changed
    copies, and notes the tests that fail."""

    def __init__(self, script: str, root: pathlib.Path):
        self.script, self.root = script, root
        self.failed, self.patched = [], []

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            callspec = getattr(item, "callspec", None)
            values = callspec.params.values() if callspec else ()
            scripts = {v for v in values if isinstance(v, str) and v in SCRIPTS}
            (keep if not scripts or self.script in scripts else drop).append(item)
        items[:] = keep
        config.hook.pytest_deselected(items=drop)
        for module in {item.module for item in keep if hasattr(item.module, "load")}:
            conftest_globals = module.load.__globals__
            self.patched.append((conftest_globals, conftest_globals["ROOT"]))
            conftest_globals["ROOT"] = self.root

    def pytest_sessionfinish(self):
        for conftest_globals, root in self.patched:
            conftest_globals["ROOT"] = root

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)


def run_tests(sources: dict[str, str], script: str, tests: list[str]) -> list[str]:
    """Writes the scripts (one of them changed) to a temporary folder and runs the tests of
    `script` on it, in this process (so torch is imported once, not per run), until one fails;
    returns the ids of those that failed."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources.items():
            pathlib.Path(tmp, f"{name}.py").write_text(source)
        plugin = OneScript(script, pathlib.Path(tmp))
        options = ["-x", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:terminal"]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = pytest.main([*options, *(str(ROOT / t) for t in tests)], plugins=[plugin])
    if code not in (0, 1) or (code == 1 and not plugin.failed):
        raise RuntimeError(f"pytest could not run the tests (exit code {code}):\n{out.getvalue()}")
    return plugin.failed


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to apply (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--tests", nargs="+", default=TESTS, help="test files to run")
    options = parser.parse_args()
    if options.list:
        for name, what, *_ in MUTANTS:
            print(f"{name:45} {what}")
        return 0
    unknown = set(options.names) - {m[0] for m in MUTANTS}
    if unknown:
        print(f"error: no mutant named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not options.names or m[0] in options.names]
    sources = {s: (ROOT / f"{s}.py").read_text() for s in SCRIPTS if (ROOT / f"{s}.py").exists()}

    bad = 0
    for script in sources:  # the unchanged scripts must pass
        failed = run_tests(sources, script, options.tests)
        print(f"{'(unchanged)':45} {script:15} {'FAILS' if failed else 'passes'} {failed}")
        bad += bool(failed)
    if bad:
        return 1
    for name, what, right, wrong in chosen:
        targets = [s for s, source in sources.items() if right in source]
        if not targets:
            print(f"{name:45} {'-':15} TEXT NOT FOUND: {right.strip()[:60]!r}")
            bad += 1
        for script in targets:
            start = time.time()
            mutated = {**sources, script: sources[script].replace(right, wrong)}
            failed = run_tests(mutated, script, options.tests)
            tests = sorted({f.split("::")[-1].split("[")[0] for f in failed})
            verdict = "caught" if failed else "UNCAUGHT"
            seconds = time.time() - start
            print(f"{name:45} {script:15} {verdict:8} {seconds:3.0f} s  {', '.join(tests)}")
            bad += not failed
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
