"""The benchmark's report: TensorBoard logs in, the paper's Table 1 and figures out.

Reads the event files of the runs that benchmark.sh started (one folder per run, named
`{env_id}__{exp_name}__{seed}__{unix_time}` by the variant scripts) and writes into --out:

- table.md: variant x environment, mean and 95% bootstrap CI over seeds, in the layout of Table 1 of
  Engstrom et al. 2020 ("Implementation Matters in Deep Policy Gradients"), with the paper's numbers
  beside ours and the AAI and ACLI rows; once per aggregate (best iteration, last 10 iterations);
- curves_{env}.png: learning curves, every variant in one plot, mean and bootstrap band over seeds;
- trust_region_{env}.png: mean KL and max ratio per iteration, per variant (the paper's section 5);
- ablation.md and ablation_{env}.png for the runs of `benchmark.sh --ablation` (the paper's Fig. 1).

The evaluation protocol is the released code's (spec/paper.md, section 6): the return of an
iteration is the mean return of the training episodes that finished in it; there are no separate
evaluation episodes.

    python benchmark_report.py --runs benchmark_results/runs --out benchmark_results
"""

import csv
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro
from matplotlib.figure import Figure  # saves through the Agg canvas: no pyplot, no global state
from matplotlib.ticker import LogFormatter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# The variants in the paper's row order, with the paper's names (spec section 5), and the names of
# their rows in ../shared/reference/table1.csv.
VARIANT_LABELS = {"ppo_continuous": "PPO", "ppo_m": "PPO-M", "trpo": "TRPO", "trpo_plus": "TRPO+"}
PAPER_ROW_NAMES = {
    "ppo_continuous": "ppo",
    "ppo_m": "ppo_m",
    "trpo": "trpo",
    "trpo_plus": "trpo_plus",
}
PAPER_ENVS = ["Walker2d", "Hopper", "Humanoid"]  # Table 1's column order
# benchmark.sh names ablation runs like ablation_clip_vloss1_scale_reward0_ortho_init1_anneal_lr0.
ABLATION_PREFIX = "ablation_"
ABLATION_SWITCHES = ["clip_vloss", "scale_reward", "ortho_init", "anneal_lr"]

# The released code's batch: 1 actor x T = 2048 steps per iteration (spec section 1). Used only
# for a run whose hyperparameter text does not give its batch size.
DEFAULT_BATCH_SIZE = 2048
LAST_ITERATIONS = 10  # the "last 10 iterations" aggregate
CONFIDENCE = 0.95
N_RESAMPLES = 10_000  # bootstrap resamples for the tables
CURVE_RESAMPLES = 1_000  # a band under a curve needs fewer, and is computed once per iteration
BOOTSTRAP_SEED = 0  # fixed, so the same logs always give the same table
PPO_CLIP_EPSILON = 0.2  # released clip epsilon (spec section 1), drawn as 1 + eps in ratio plots

AGGREGATES = {
    "best": "Best iteration: per run, the highest per-iteration mean return",
    "last10": f"Last {LAST_ITERATIONS} iterations: per run, the mean of the last "
    f"{LAST_ITERATIONS} per-iteration mean returns",
}


@dataclass
class Args:
    runs: Path = Path("benchmark_results/runs")
    """the folder of run folders (TensorBoard logs), as written by benchmark.sh"""
    out: Path = Path("benchmark_results")
    """where table.md and the figures go"""
    paper_table: Path = Path(__file__).resolve().parent.parent / "shared/reference/table1.csv"
    """the paper's Table 1 as CSV; the paper's columns stay empty if the file is absent"""


# ==================================================================================================
# Arithmetic (small pure functions, tested on numbers worked out by hand)
# ==================================================================================================
def iteration_means(steps, returns, batch_size):
    """Mean return of the episodes that finished in each iteration.

    An episode logged at global step s (steps counted from 1) finished in iteration
    ceil(s / batch_size): iteration k covers the steps (k-1)*batch_size + 1 .. k*batch_size.
    Returns the iterations that had at least one episode, ascending, and their mean returns.
    """
    steps = np.asarray(steps, dtype=np.int64)
    returns = np.asarray(returns, dtype=np.float64)
    iterations = -(-steps // batch_size)  # ceil in integer arithmetic, exact for any step count
    unique, inverse = np.unique(iterations, return_inverse=True)
    means = np.bincount(inverse, weights=returns) / np.bincount(inverse)
    return unique, means


def aggregate(means, kind):
    """One number per run from its per-iteration means: kind "best" or "last10"."""
    if len(means) == 0:
        return math.nan
    if kind == "best":
        return float(np.max(means))
    return float(np.mean(means[-LAST_ITERATIONS:]))


def bootstrap_ci(values, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=BOOTSTRAP_SEED):
    """Mean and percentile-bootstrap confidence interval of the mean: (mean, low, high).

    With few values (3 seeds) the interval is narrower than the truth, because the resamples can
    only mix the values seen: it shows how far apart the seeds are, not more.
    """
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resamples = values[rng.integers(0, len(values), size=(n_resamples, len(values)))]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resamples.mean(axis=1), [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


def bootstrap_diff_ci(on, off, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=BOOTSTRAP_SEED):
    """mean(on) - mean(off) and its percentile-bootstrap CI, the two groups resampled apart."""
    on, off = np.asarray(on, dtype=np.float64), np.asarray(off, dtype=np.float64)
    rng = np.random.default_rng(seed)
    on_means = on[rng.integers(0, len(on), size=(n_resamples, len(on)))].mean(axis=1)
    off_means = off[rng.integers(0, len(off), size=(n_resamples, len(off)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(on_means - off_means, [tail, 100 - tail])
    return float(on.mean() - off.mean()), float(low), float(high)


def aai_acli(means):
    """The paper's AAI and ACLI (spec section 5) from {variant: mean}; None unless all four ran.

    AAI, the algorithmic improvement: max(|PPO - TRPO+|, |PPO-M - TRPO|), the step alone.
    ACLI, the code-level improvement: max(|PPO - PPO-M|, |TRPO+ - TRPO|), the optimizations alone.
    """
    if any(variant not in means for variant in VARIANT_LABELS):
        return None, None
    ppo, ppo_m = means["ppo_continuous"], means["ppo_m"]
    trpo, trpo_plus = means["trpo"], means["trpo_plus"]
    aai = max(abs(ppo - trpo_plus), abs(ppo_m - trpo))
    acli = max(abs(ppo - ppo_m), abs(trpo_plus - trpo))
    return aai, acli


def parse_run_name(name):
    """`{env_id}__{exp_name}__{seed}__{unix_time}` -> those four (seed and time as int), or None."""
    parts = name.split("__")
    if len(parts) < 4 or not parts[-2].isdigit() or not parts[-1].isdigit():
        return None
    return parts[0], "__".join(parts[1:-2]), int(parts[-2]), int(parts[-1])


def parse_hparams(hparams_text):
    """{key: value text} from the scripts' markdown table of hyperparameters (`|key|value|` rows)."""
    return dict(re.findall(r"^\|\s*(\w+)\s*\|\s*([^|]*?)\s*\|$", hparams_text, flags=re.MULTILINE))


def parse_batch_size(hparams_text):
    """The batch size from the scripts' markdown table of hyperparameters."""
    values = parse_hparams(hparams_text)
    if values.get("batch_size", "").isdigit() and int(values["batch_size"]) > 0:
        return int(values["batch_size"])
    if values.get("num_steps", "").isdigit() and values.get("num_envs", "").isdigit():
        return int(values["num_steps"]) * int(values["num_envs"])
    return None


def env_family(env_id):
    """Hopper-v5 -> Hopper: the name under which the paper (on -v2) reports that environment."""
    return re.sub(r"-v\d+$", "", env_id)


def ablation_switches(exp_name):
    """{switch: on} from an ablation run's name, or None if it is not one of benchmark.sh's."""
    if not exp_name.startswith(ABLATION_PREFIX):
        return None
    found = dict(re.findall(r"(" + "|".join(ABLATION_SWITCHES) + r")([01])", exp_name))
    if sorted(found) != sorted(ABLATION_SWITCHES):
        return None
    return {switch: found[switch] == "1" for switch in ABLATION_SWITCHES}


# ==================================================================================================
# Reading the logs
# ==================================================================================================
@dataclass
class Run:
    env_id: str
    exp_name: str
    seed: int
    path: Path
    batch_size: int
    batch_size_assumed: bool
    iterations: np.ndarray  # the iterations that had finished episodes ...
    iteration_returns: np.ndarray  # ... and the mean return of those episodes
    trust_region: dict = field(default_factory=dict)  # tag -> (iterations, values)
    max_kl: float | None = None  # the TRPO variants' KL bound, from the hyperparameters
    line_search: dict = field(default_factory=dict)  # TRPO: tag -> values, one per iteration
    planned_iterations: int | None = None  # from the hyperparameters; None if they are missing

    @property
    def done_iterations(self):
        """Iterations logged so far (the trust-region tags are logged once per iteration)."""
        steps = self.trust_region.get("trust_region/mean_kl", (None, []))[0]
        return len(steps) if len(steps) else int(self.iterations[-1])

    @property
    def complete(self):
        return self.planned_iterations is None or self.done_iterations >= self.planned_iterations


def load_run(path, env_id, exp_name, seed):
    # size_guidance 0 keeps every event; the default keeps a random sample of 1000 per tag.
    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    batch_size, max_kl, planned = None, None, None
    if "hyperparameters/text_summary" in tags["tensors"]:
        text = events.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0]
        text = text.decode("utf-8", errors="replace")
        batch_size = parse_batch_size(text)
        hparams = parse_hparams(text)
        if "max_kl" in hparams:
            max_kl = float(hparams["max_kl"])
        if hparams.get("num_iterations", "").isdigit():
            planned = int(hparams["num_iterations"])
    assumed = batch_size is None
    batch_size = batch_size or DEFAULT_BATCH_SIZE

    def scalars(tag):
        points = events.Scalars(tag) if tag in tags["scalars"] else []
        steps = np.array([p.step for p in points], dtype=np.int64)
        return steps, np.array([p.value for p in points])

    iterations, returns = iteration_means(*scalars("charts/episodic_return"), batch_size)
    trust_region = {}
    for tag in ("trust_region/mean_kl", "trust_region/max_ratio"):
        steps, values = scalars(tag)
        if len(steps):
            # Logged once per iteration, at its last global step k * batch_size.
            trust_region[tag] = (-(-steps // batch_size), values)
    line_search = {tag: scalars(tag)[1] for tag in ("trpo/accepted", "trpo/kl_after_step") if tag in tags["scalars"]}
    return Run(
        env_id,
        exp_name,
        seed,
        path,
        batch_size,
        assumed,
        iterations,
        returns,
        trust_region,
        max_kl,
        line_search,
        planned,
    )


def load_runs(runs_dir, notes):
    """Every run under runs_dir; of several folders for one (env, name, seed), the newest."""
    folders = defaultdict(list)  # (env_id, exp_name, seed) -> [(unix_time, path)]
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir()):
        parsed = parse_run_name(path.name)
        if parsed is None or not any(path.glob("events.out.tfevents.*")):
            notes.append(f"skipped `{path.name}`: not a run folder named env__name__seed__time")
            continue
        env_id, exp_name, seed, unix_time = parsed
        folders[env_id, exp_name, seed].append((unix_time, path))
    runs = []
    for key, candidates in sorted(folders.items()):
        if len(candidates) > 1:
            # benchmark.sh clears an interrupted attempt before it runs the seed again; a folder
            # of scripts run by hand may still hold several.
            env_id, exp_name, seed = key
            count = len(candidates)
            notes.append(f"{env_id} {exp_name} seed {seed}: {count} run folders, used the newest")
        runs.append(load_run(max(candidates)[1], *key))
    for run in runs:
        if run.batch_size_assumed:
            assumption = f"no batch size in its hyperparameters, assumed {DEFAULT_BATCH_SIZE}"
            notes.append(f"`{run.path.name}`: {assumption}")
        if len(run.iterations) == 0:
            notes.append(f"`{run.path.name}` has no finished episodes; left out")
    return [run for run in runs if len(run.iterations)]


def load_paper_table(path):
    """{(variant, env family): (mean, low, high)} from the paper's Table 1 CSV; {} if absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    script_names = {paper: script for script, paper in PAPER_ROW_NAMES.items()}
    table = {}
    with path.open() as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            if row["variant"] in script_names:
                numbers = (float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]))
                table[script_names[row["variant"]], row["env"]] = numbers
    return table


# ==================================================================================================
# Writing the report
# ==================================================================================================
def order_envs(env_ids):
    """The paper's column order (Walker2d, Hopper, Humanoid), then other environments by name."""
    rank = {family: i for i, family in enumerate(PAPER_ENVS)}
    return sorted(set(env_ids), key=lambda e: (rank.get(env_family(e), len(rank)), e))


def order_variants(names):
    """The paper's row order, then any other experiment name (a user's own variant) by name."""
    known = [v for v in VARIANT_LABELS if v in names]
    return known + sorted(set(names) - set(known))


def label(exp_name):
    if exp_name in VARIANT_LABELS:
        return f"{VARIANT_LABELS[exp_name]} (`{exp_name}`)"
    return f"`{exp_name}`"


def plot_label(exp_name):
    # matplotlib leaves a label that starts with "_" out of the legend.
    return VARIANT_LABELS.get(exp_name, exp_name.lstrip("_") or exp_name)


def number(x):
    text = f"{x:.0f}"
    return "0" if text == "-0" else text  # -0.3 rounds to "-0"


def cell(mean, low, high):
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def results_table(runs, kind, paper):
    """One markdown table in Table 1's layout for one aggregate ("best" or "last10")."""
    envs = order_envs(r.env_id for r in runs)
    variants = order_variants({r.exp_name for r in runs})
    values = defaultdict(list)  # (variant, env) -> one aggregate per seed
    for run in runs:
        values[run.exp_name, run.env_id].append(aggregate(run.iteration_returns, kind))
    seed_counts = {len(v) for v in values.values()}

    header = [""]
    for env in envs:
        header += [f"{env} (ours)", f"{env_family(env)}-v2 (paper)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    our_means = defaultdict(dict)  # env -> {variant: mean over seeds}
    for variant in variants:
        row = [label(variant)]
        for env in envs:
            if (variant, env) in values:
                mean, low, high = bootstrap_ci(values[variant, env])
                our_means[env][variant] = mean
                n = len(values[variant, env])
                row.append(cell(mean, low, high) + (f" (n={n})" if len(seed_counts) > 1 else ""))
            else:
                row.append("—")
            paper_numbers = paper.get((variant, env_family(env)))
            row.append(cell(*paper_numbers) if paper_numbers else "—")
        lines.append("| " + " | ".join(row) + " |")
    for position, index_name in enumerate(("AAI", "ACLI")):
        row = [index_name]
        for env in envs:
            family = env_family(env)
            paper_means = {v: numbers[0] for (v, e), numbers in paper.items() if e == family}
            for means in (our_means[env], paper_means):
                value = aai_acli(means)[position]
                row.append(number(value) if value is not None else "—")
        lines.append("| " + " | ".join(row) + " |")
    if len(seed_counts) == 1:
        n = seed_counts.pop()
        seeds = f"{n} seed" + ("s" if n > 1 else "")
    else:
        seeds = "n seeds"
    title = f"## {AGGREGATES[kind]}; mean [{CONFIDENCE:.0%} bootstrap CI] over {seeds}"
    return title + "\n\n" + "\n".join(lines) + "\n"


def trust_region_summary(run):
    """Per run, over training: the largest max ratio, the mean of the mean KL, and for TRPO the
    iterations whose line search gave up and the largest KL after an accepted step (with the bound)."""
    max_ratio = run.trust_region.get("trust_region/max_ratio", (None, np.array([])))[1]
    mean_kl = run.trust_region.get("trust_region/mean_kl", (None, np.array([])))[1]
    summary = {
        "max_ratio": max_ratio.max() if len(max_ratio) else np.nan,
        "mean_kl": mean_kl.mean() if len(mean_kl) else np.nan,
    }
    if "trpo/accepted" in run.line_search:
        accepted = run.line_search["trpo/accepted"] > 0.5
        kl_after = run.line_search["trpo/kl_after_step"][accepted]
        summary["gave_up"] = int((~accepted).sum())
        summary["max_kl_accepted"] = kl_after.max() if len(kl_after) else np.nan
    return summary


def per_run_table(runs):
    lines = [
        "| environment | variant | seed | iterations | batch size | best iteration | last 10 "
        "| largest max ratio | mean of mean KL | line search gave up | largest KL of a step taken (bound) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    envs = order_envs(r.env_id for r in runs)
    for run in sorted(runs, key=lambda r: (envs.index(r.env_id), r.exp_name, r.seed)):
        best = aggregate(run.iteration_returns, "best")
        last = aggregate(run.iteration_returns, "last10")
        tr = trust_region_summary(run)
        trpo = ("—", "—")
        if "gave_up" in tr:
            bound = f" ({run.max_kl:g})" if run.max_kl is not None else ""
            trpo = (
                f"{tr['gave_up']} of {len(run.line_search['trpo/accepted'])}",
                f"{tr['max_kl_accepted']:.4f}{bound}",
            )
        lines.append(
            f"| {run.env_id} | `{run.exp_name}` | {run.seed} "
            f"| {run.done_iterations}{'' if run.complete else f' of {run.planned_iterations}'} "
            f"| {run.batch_size} | {number(best)} | {number(last)} "
            f"| {tr['max_ratio']:.2f} | {tr['mean_kl']:.4f} | {trpo[0]} | {trpo[1]} |"
        )
    return "\n".join(lines) + "\n"


def write_table_md(runs, paper, notes, path):
    parts = [
        "# Results in the layout of the paper's Table 1\n",
        "The return of an iteration is the mean undiscounted return of the training episodes "
        "that finished in it (the released code's protocol, spec/paper.md section 6). CI: "
        f"percentile bootstrap over seeds, {N_RESAMPLES} resamples, RNG seed {BOOTSTRAP_SEED}; "
        "with a handful of seeds it shows how far apart they are, and is too narrow as a CI.\n",
        "AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|), from "
        "the means; shown only where all four variants ran.\n",
    ]
    if paper:
        parts.append(
            "Paper: Engstrom et al. 2020, Table 1 (gym -v2 environments, about 40 agents per "
            "cell). Its aggregate is believed to be the best iteration (unverified), so compare it "
            "with the first table. Its AAI and ACLI here come from its rounded means (for Hopper's "
            "ACLI the paper prints 421, the rounded means give 423).\n"
        )
    else:
        parts.append("The paper's numbers were not found, so their columns are empty.\n")
    complete = [run for run in runs if run.complete]
    for run in runs:
        if not run.complete:
            notes.append(
                f"`{run.path.name}` has {run.done_iterations} of {run.planned_iterations} iterations "
                "(still running, or stopped): in the per-run table and the plots, not in the tables above"
            )
    for kind in AGGREGATES:
        parts.append(results_table(complete, kind, paper) if complete else "No run has finished yet.\n")
    parts.append("## Per run\n\n" + per_run_table(runs))
    if notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    Path(path).write_text("\n".join(parts) + "\n")


def series_matrix(series):
    """[(iterations, values) per seed] -> (seeds x iterations) array, NaN where a seed has none."""
    length = max(int(iterations[-1]) for iterations, _ in series)
    matrix = np.full((len(series), length), np.nan)
    for i, (iterations, values) in enumerate(series):
        matrix[i, iterations - 1] = values
    return matrix


def mean_and_band(matrix):
    """Per column: the mean over the seeds that have a value there, and its bootstrap CI."""
    mean, low, high = np.full((3, matrix.shape[1]), np.nan)
    for j in range(matrix.shape[1]):
        column = matrix[~np.isnan(matrix[:, j]), j]
        if len(column):
            mean[j], low[j], high[j] = bootstrap_ci(column, n_resamples=CURVE_RESAMPLES)
    return mean, low, high


def plot_with_band(ax, x, matrix, name):
    mean, low, high = mean_and_band(matrix)
    (line,) = ax.plot(x, mean, label=name)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def plot_learning_curves(runs, out):
    written = []
    for env in order_envs(r.env_id for r in runs):
        fig = Figure(figsize=(7, 4.5))
        ax = fig.subplots()
        for variant in order_variants({r.exp_name for r in runs if r.env_id == env}):
            group = [r for r in runs if r.env_id == env and r.exp_name == variant]
            matrix = series_matrix([(r.iterations, r.iteration_returns) for r in group])
            steps = np.arange(1, matrix.shape[1] + 1) * group[0].batch_size
            name = f"{plot_label(variant)} ({len(group)} seed{'s' if len(group) > 1 else ''})"
            plot_with_band(ax, steps, matrix, name)
        ax.set(
            title=f"{env}: mean return per iteration, {CONFIDENCE:.0%} bootstrap band over seeds",
            xlabel="environment steps",
            ylabel="mean episodic return",
        )
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        written.append(Path(out) / f"curves_{env}.png")
        fig.savefig(written[-1], dpi=120)
    return written


def plot_trust_region(runs, out):
    """Mean KL and max ratio per iteration, one line per variant: the paper's trust-region plots."""
    written = []
    for env in order_envs(r.env_id for r in runs):
        env_runs = [r for r in runs if r.env_id == env and r.trust_region]
        if not env_runs:
            continue
        fig = Figure(figsize=(11, 4.5))
        ax_kl, ax_ratio = fig.subplots(1, 2)
        for variant in order_variants({r.exp_name for r in env_runs}):
            group = [r for r in env_runs if r.exp_name == variant]
            for ax, tag in ((ax_kl, "trust_region/mean_kl"), (ax_ratio, "trust_region/max_ratio")):
                series = [r.trust_region[tag] for r in group if tag in r.trust_region]
                if series:
                    matrix = series_matrix(series)
                    x = np.arange(1, matrix.shape[1] + 1)
                    plot_with_band(ax, x, matrix, plot_label(variant))
        ax_kl.set(title=f"{env}: mean KL(old || new)", xlabel="iteration", ylabel="mean KL")
        ax_ratio.axhline(1 + PPO_CLIP_EPSILON, color="gray", linestyle="--", label="1 + PPO's clip")
        ax_ratio.set(
            title=f"{env}: max ratio pi_new / pi_old",
            xlabel="iteration",
            ylabel="max ratio",
            yscale="log",
        )
        # Plain numbers (2, 3, 10) rather than 2 x 10^0 on the log axis, some minor ticks labelled
        # where the axis spans up to two decades.
        ax_ratio.yaxis.set_major_formatter(LogFormatter())
        ax_ratio.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))
        for ax in (ax_kl, ax_ratio):
            ax.xaxis.get_major_locator().set_params(integer=True)  # iterations are whole numbers
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        written.append(Path(out) / f"trust_region_{env}.png")
        fig.savefig(written[-1], dpi=120)
    return written


def ablation_scores(runs, kind):
    """{env: {switch: {True: [one aggregate per run with it on], False: [... with it off]}}}."""
    scores = defaultdict(lambda: {switch: {True: [], False: []} for switch in ABLATION_SWITCHES})
    for run in runs:
        for switch, on in ablation_switches(run.exp_name).items():
            scores[run.env_id][switch][on].append(aggregate(run.iteration_returns, kind))
    return scores


def combinations_table(runs, envs):
    """Best-iteration return of each of the 16 combinations, mean [CI] over seeds."""
    header = [*(f"`--{s.replace('_', '-')}`" for s in ABLATION_SWITCHES), *envs]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    values = defaultdict(list)  # (combination, env) -> best iteration per seed
    for run in runs:
        combination = tuple(ablation_switches(run.exp_name).values())
        values[combination, run.env_id].append(aggregate(run.iteration_returns, "best"))
    for combination in sorted({c for c, _ in values}, reverse=True):
        row = ["on" if on else "off" for on in combination]
        for env in envs:
            seeds = values.get((combination, env))
            row.append(cell(*bootstrap_ci(seeds)) if seeds else "—")
        lines.append("| " + " | ".join(row) + " |")
    return f"## {AGGREGATES['best']}, per combination\n\n" + "\n".join(lines) + "\n"


def write_ablation(runs, out):
    """The paper's Fig. 1: each switch's effect, on minus off, over all 16 combinations' runs."""
    envs = order_envs(r.env_id for r in runs)
    parts = [
        "# Ablation in the manner of the paper's Fig. 1 (ppo_continuous, 16 on/off combinations)\n",
        "Effect of a switch: the mean over the runs with it on minus the mean over the runs with "
        "it off (all combinations of the other three, all seeds), with a "
        f"{CONFIDENCE:.0%} percentile bootstrap CI that resamples the two groups apart "
        f"({N_RESAMPLES} resamples, RNG seed {BOOTSTRAP_SEED}). Every combination uses the "
        "environment's released PPO learning rates; the paper picked the best of several learning "
        "rates per combination instead.\n",
    ]
    for kind in AGGREGATES:
        scores = ablation_scores(runs, kind)
        lines = ["| switch | " + " | ".join(envs) + " |", "|" + "---|" * (len(envs) + 1)]
        for switch in ABLATION_SWITCHES:
            row = [f"`--{switch.replace('_', '-')}`"]
            for env in envs:
                on, off = scores[env][switch][True], scores[env][switch][False]
                if on and off:
                    effect = cell(*bootstrap_diff_ci(on, off))
                    row.append(f"{effect} ({len(on)} on, {len(off)} off)")
                else:
                    row.append("—")
            lines.append("| " + " | ".join(row) + " |")
        parts.append(f"## {AGGREGATES[kind]}: on minus off\n\n" + "\n".join(lines) + "\n")
    parts.append(combinations_table(runs, envs))
    Path(out, "ablation.md").write_text("\n".join(parts) + "\n")
    written = [Path(out) / "ablation.md"]

    # As in Fig. 1: per switch, the fraction of runs that reached at least a given return (1 - CDF),
    # once with the switch on and once off.
    scores = ablation_scores(runs, "best")
    for env in envs:
        fig = Figure(figsize=(12, 3.5))
        axes = fig.subplots(1, len(ABLATION_SWITCHES), sharey=True)
        for ax, switch in zip(axes, ABLATION_SWITCHES, strict=True):
            for on in (True, False):
                values = np.sort(scores[env][switch][on])
                if len(values):
                    fraction_at_least = 1 - np.arange(len(values)) / len(values)
                    ax.step(values, fraction_at_least, where="post", label="on" if on else "off")
            ax.set(title=f"--{switch.replace('_', '-')}", xlabel="best-iteration return")
            ax.grid(alpha=0.3)
            ax.legend()
        axes[0].set_ylabel("fraction of runs reaching it")
        fig.suptitle(f"{env}: ablation of ppo_continuous")
        fig.tight_layout()
        written.append(Path(out) / f"ablation_{env}.png")
        fig.savefig(written[-1], dpi=120)
    return written


def main(args):
    if not args.runs.is_dir():
        sys.exit(f"benchmark_report.py: there is no runs folder at {args.runs}")
    notes = []
    runs = load_runs(args.runs, notes)
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {args.runs} has a finished episode yet")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)

    written = []
    table_runs = [r for r in runs if ablation_switches(r.exp_name) is None]
    if table_runs:
        paper = load_paper_table(args.paper_table)
        write_table_md(table_runs, paper, notes, args.out / "table.md")
        written.append(args.out / "table.md")
        written += plot_learning_curves(table_runs, args.out)
        written += plot_trust_region(table_runs, args.out)
    ablation_runs = [r for r in runs if ablation_switches(r.exp_name) is not None]
    if ablation_runs:
        written += write_ablation(ablation_runs, args.out)
    print(f"report on {len(runs)} runs:")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":
    main(tyro.cli(Args))
