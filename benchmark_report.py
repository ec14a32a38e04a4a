"""The benchmark's report: runs in, the paper's Tables 1 and 2 and figures out.

Reads the runs that benchmark.sh started, either from their TensorBoard event files (--runs: one
folder per run, named `{env_id}__{exp_name}__{seed}__{unix_time}` by the variant scripts), from
the per-run records that an earlier report wrote (--records), or from both (a run's event files
win over its record, which came from them or from an earlier attempt), and writes into --out:

- records/{env_id}__{exp_name}__{seed}.csv: one small CSV per run with, per iteration, every number
  the report reads, so that the report regenerates from --out alone, without the event files;
- table.md: Table 1 (PPO, PPO-M, TRPO, TRPO+) and Table 2 (PPO-NoClip beside PPO) of Engstrom et al.
  2020 ("Implementation Matters in Deep Policy Gradients"), our mean and 95% bootstrap CI over seeds
  beside the paper's number, with the AAI and ACLI rows, once per aggregate (best iteration, last 10
  iterations); differences between environment versions and time-limit treatments; a trust-region
  summary per variant; one row per run;
- curves_{env}.png: learning curves, every variant in one plot;
- trust_region_{env}.png: mean KL and max ratio per iteration, per variant, as in the paper's
  trust-region plots;
- ablation.md and ablation_{env}.png for the runs of `benchmark.sh --ablation` (the paper's Fig. 1);
- summary.md: every claim's verdicts in one table, and the comparisons, in short; and in the README
  (--readme, or ours when --out is benchmark_results) two blocks between their marker lines: the
  headline, three findings chosen by HEADLINE_RULE, and a short results summary (readme_summary).

The return of an iteration is the mean return of the training episodes that ended in it, including
episodes begun in the previous iteration; the released code resets every iteration and counts only
the episodes begun and ended inside it (RETURN_PROTOCOL, printed in table.md). There are no separate
evaluation episodes. The paper's claims are judged by one rule, report_stats.VERDICT_RULE.

    python benchmark_report.py --runs benchmark_runs/runs --out benchmark_runs
    python benchmark_report.py --records benchmark_results/records --out benchmark_results
"""

import csv
import errno
import math
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Annotated

import numpy as np
import tyro
from matplotlib.figure import Figure  # saves through the Agg canvas: no pyplot, no global state
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogFormatter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import report_stats  # the bootstrap and the verdict rule, beside this file

# The committed results and the README are the repository's.
REPOSITORY = Path(__file__).resolve().parent
# The variants in the paper's row order, with the paper's names, and the names of their rows in the
# paper's table (reference/paper_tables.csv): the variants' own, but PPO's.
VARIANT_LABELS = {
    "ppo_continuous": "PPO",
    "ppo_m": "PPO-M",
    "trpo": "TRPO",
    "trpo_plus": "TRPO+",
    "ppo_noclip": "PPO-NoClip",
}
PAPER_ROW_NAMES = {variant: variant for variant in VARIANT_LABELS} | {"ppo_continuous": "ppo"}
# The variants of the paper's Table 1, also the four that AAI and ACLI compare.
TABLE_1 = ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"]
TABLE_2 = ["ppo_noclip", "ppo_continuous"]  # PPO-NoClip, and PPO beside it for comparison
# benchmark.sh --time-limit-as-termination names its runs {variant}_tlterm, beside the default ones.
TLTERM_SUFFIX = "_tlterm"
PAPER_ENVS = ["Walker2d", "Hopper", "Humanoid"]  # Table 1's column order
# benchmark.sh names ablation runs like ablation_clip_vloss1_scale_reward0_ortho_init1_anneal_lr0.
ABLATION_PREFIX = "ablation_"
ABLATION_SWITCHES = ["clip_vloss", "scale_reward", "ortho_init", "anneal_lr"]

# The released code's batch, 1 actor x 2048 steps per iteration. Used only for a run whose
# hyperparameter text does not give its batch size.
DEFAULT_BATCH_SIZE = 2048
LAST_ITERATIONS = 10  # the "last 10 iterations" aggregate
# Iterations per rolling mean in the figures: its last point is the last-10 aggregate.
SMOOTHING_WINDOW = 10
# The bootstrap's settings live with the verdict rule, in report_stats.py.
CONFIDENCE, N_RESAMPLES, BOOTSTRAP_SEED = (
    report_stats.CONFIDENCE,
    report_stats.N_RESAMPLES,
    report_stats.BOOTSTRAP_SEED,
)
CURVE_RESAMPLES = 1_000  # a band under a curve needs fewer, and is computed once per iteration

AGGREGATES = {
    "best": "Best iteration: per run, the highest per-iteration mean return",
    "last10": f"Last {LAST_ITERATIONS} iterations: per run, the mean of the last "
    f"{LAST_ITERATIONS} per-iteration mean returns",
}

# A run's record: per iteration, the mean return of the episodes that finished in it and their
# count, then the scalars the scripts log once per iteration (column name -> TensorBoard tag). The
# TRPO columns stay empty for PPO.
LOGGED_PER_ITERATION = {
    "mean_kl": "trust_region/mean_kl",
    "max_ratio": "trust_region/max_ratio",
    "line_search_steps": "trpo/line_search_steps",
    "accepted": "trpo/accepted",
    "expected_improvement": "trpo/expected_improvement",
    "actual_improvement": "trpo/actual_improvement",
    "kl_after_step": "trpo/kl_after_step",
}
RECORD_COLUMNS = ["iteration", "global_step", "mean_return", "episodes", *LOGGED_PER_ITERATION]
SIGNIFICANT_DIGITS = 6  # of the floats in a record: far below the noise, and a record stays small


@dataclass
class Args:
    out: Path
    """where table.md, the figures and records/ (a CSV per run) go; no default: only where named"""
    runs: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """a folder of run folders with event files, as benchmark.sh writes them"""
    records: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """an earlier report's OUT/records (one CSV per run); with --runs, the runs that have no event
    files there"""
    readme: Annotated[Path | None, tyro.conf.arg(metavar="FILE")] = None
    """a README to write the two blocks into (default: ours, if --out is benchmark_results)"""
    paper_table: Path = Path(__file__).resolve().parent / "reference" / "paper_tables.csv"
    """the paper's numbers, CSV (variant,env,mean,ci_low,ci_high); without it, no paper columns"""


# ==================================================================================================
# Arithmetic (small pure functions, tested on numbers worked out by hand)
# ==================================================================================================
def iteration_of(steps, batch_size):
    """The iteration a global step belongs to: iteration k covers steps (k-1)*batch_size + 1 ..
    k*batch_size (steps counted from 1). Ceil in integer arithmetic, exact for any step count."""
    return -(-np.asarray(steps, dtype=np.int64) // batch_size)


def iteration_means(steps, returns, batch_size):
    """Mean return of the episodes that finished in each iteration.

    An episode logged at global step s finished in iteration ceil(s / batch_size). Returns the
    iterations that had at least one episode, ascending, and their mean returns.
    """
    returns = np.asarray(returns, dtype=np.float64)
    unique, inverse = np.unique(iteration_of(steps, batch_size), return_inverse=True)
    means = np.bincount(inverse, weights=returns) / np.bincount(inverse)
    return unique, means


def aggregate(means, kind):
    """One number per run from its per-iteration means: kind "best" or "last10"."""
    if len(means) == 0:
        return math.nan
    if kind == "best":
        return float(np.max(means))
    return float(np.mean(means[-LAST_ITERATIONS:]))


def bootstrap_ci(values, n_resamples=N_RESAMPLES):
    """Mean and percentile-bootstrap confidence interval of the mean: (mean, low, high).

    With few values (3 seeds) the interval is narrower than the truth, because the resamples can
    only mix the values seen: it shows how far apart the seeds are, not more.
    """
    return report_stats.bootstrap([values], report_stats.mean, n_resamples=n_resamples)[:3]


def bootstrap_diff_ci(on, off):
    """mean(on) - mean(off) and its percentile-bootstrap CI, the two groups resampled apart."""
    return report_stats.difference_ci(on, off)


def aai_acli(means, suffix=""):
    """The paper's AAI and ACLI from {variant: mean}; None unless all four ran.

    AAI, the algorithmic improvement: max(|PPO - TRPO+|, |PPO-M - TRPO|), the step alone.
    ACLI, the code-level improvement: max(|PPO - PPO-M|, |TRPO+ - TRPO|), the optimizations alone.
    suffix picks another set of four, e.g. "_tlterm" for ppo_continuous_tlterm and its siblings.
    """
    if any(variant + suffix not in means for variant in TABLE_1):
        return None, None
    ppo, ppo_m = means["ppo_continuous" + suffix], means["ppo_m" + suffix]
    trpo, trpo_plus = means["trpo" + suffix], means["trpo_plus" + suffix]
    aai = max(abs(ppo - trpo_plus), abs(ppo_m - trpo))
    acli = max(abs(ppo - ppo_m), abs(trpo_plus - trpo))
    return aai, acli


def rolling_mean(matrix, window):
    """Per row, the mean of the values of the last `window` columns up to each column (fewer at the
    start), NaN left out; NaN where the window holds no value. The learning curves' smoothing."""
    valid = ~np.isnan(matrix)
    sums = np.cumsum(np.where(valid, matrix, 0.0), axis=1)
    counts = np.cumsum(valid, axis=1)
    sums[:, window:] = sums[:, window:] - sums[:, :-window]
    counts[:, window:] = counts[:, window:] - counts[:, :-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def column_means(matrix):
    """Per column, the mean of its values, NaN left out; NaN for a column without any."""
    counts = (~np.isnan(matrix)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.nansum(matrix, axis=0) / counts, np.nan)


def parse_run_name(name):
    """`{env_id}__{exp_name}__{seed}__{unix_time}` -> those four (seed and time as int), or None."""
    parts = name.split("__")
    if len(parts) < 4 or not parts[-2].isdigit() or not parts[-1].isdigit():
        return None
    return parts[0], "__".join(parts[1:-2]), int(parts[-2]), int(parts[-1])


def parse_hparams(hparams_text):
    """{key: value text} from the scripts' markdown hyperparameter table (`|key|value|` rows)."""
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


def base_variant(exp_name):
    """ppo_m_tlterm -> ppo_m: the variant a time-limit-as-termination run belongs to."""
    return exp_name.removesuffix(TLTERM_SUFFIX)


def ablation_switches(exp_name):
    """{switch: on} from an ablation run's name, or None if it is not one of benchmark.sh's."""
    if not exp_name.startswith(ABLATION_PREFIX):
        return None
    found = dict(re.findall(r"(" + "|".join(ABLATION_SWITCHES) + r")([01])", exp_name))
    if sorted(found) != sorted(ABLATION_SWITCHES):
        return None
    return {switch: found[switch] == "1" for switch in ABLATION_SWITCHES}


# ==================================================================================================
# A run: its per-iteration record and the few hyperparameters the report reads
# ==================================================================================================
@dataclass
class Run:
    env_id: str
    exp_name: str
    seed: int
    source: str  # the run folder's name, `{env_id}__{exp_name}__{seed}__{unix_time}`
    batch_size: int
    batch_size_assumed: bool
    planned_iterations: int | None  # from the hyperparameters; None if they are missing
    max_kl: float | None  # the TRPO variants' KL bound delta
    clip_coef: float | None  # the PPO variants' clip epsilon
    columns: dict  # record column -> one float per iteration 1..N, NaN where nothing was logged
    notes: list = field(default_factory=list)  # about how the record was made, kept in the record

    @property
    def key(self):
        return f"{self.env_id}__{self.exp_name}__{self.seed}"

    @property
    def iterations(self):
        """The iterations that had finished episodes (numbered from 1) ..."""
        return np.flatnonzero(~np.isnan(self.columns["mean_return"])) + 1

    @property
    def iteration_returns(self):
        """... and the mean return of those episodes."""
        returns = self.columns["mean_return"]
        return returns[~np.isnan(returns)]

    def logged(self, column):
        """(iterations, values) of one column, where it was logged."""
        values = self.columns[column]
        present = ~np.isnan(values)
        return np.flatnonzero(present) + 1, values[present]

    @property
    def done_iterations(self):
        """Iterations logged so far (the trust-region tags are logged at every iteration's end)."""
        logged = len(self.logged("mean_kl")[1])
        return logged if logged else int(self.iterations[-1])

    @property
    def complete(self):
        return self.planned_iterations is None or self.done_iterations >= self.planned_iterations


def significant(values):
    """Rounded to SIGNIFICANT_DIGITS, as a record stores them, so that a run read from its event
    files and the same run read back from its record give the same numbers, and the same report."""
    return np.array([float(f"{x:.{SIGNIFICANT_DIGITS}g}") for x in values])


def run_from_events(path, env_id, exp_name, seed):
    # size_guidance 0 keeps every event; the default keeps a random sample of 1000 per tag.
    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    hparams, batch_size = {}, None
    if "hyperparameters/text_summary" in tags["tensors"]:
        text = events.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0]
        text = text.decode("utf-8", errors="replace")
        hparams, batch_size = parse_hparams(text), parse_batch_size(text)
    assumed = batch_size is None
    batch_size = batch_size or DEFAULT_BATCH_SIZE

    def scalars(tag):
        points = events.Scalars(tag) if tag in tags["scalars"] else []
        return np.array([p.step for p in points], dtype=np.int64), np.array(
            [p.value for p in points]
        )

    episode_steps, episode_returns = scalars("charts/episodic_return")
    logged = {column: scalars(tag) for column, tag in LOGGED_PER_ITERATION.items()}
    # Every column is as long as the last iteration: a step outside the run's iterations (past the
    # planned ones or, without them, past one iteration per point, as the scripts log every
    # iteration) is not the run's, and would size the columns by itself.
    planned = (
        int(hparams["num_iterations"]) if hparams.get("num_iterations", "").isdigit() else None
    )
    every_step = np.concatenate([episode_steps, *(steps for steps, _ in logged.values())])
    limit = planned if planned is not None else len(every_step)
    if len(every_step) and (
        every_step.min() < 1 or iteration_of(every_step.max(), batch_size) > limit
    ):
        bad = every_step.min() if every_step.min() < 1 else every_step.max()
        what = (
            f"its {limit} planned iterations"
            if planned is not None
            else f"{limit} iterations (one per point logged)"
        )
        raise ValueError(f"a point at step {bad} lies outside {what} of {batch_size} steps")
    with_episodes, means = iteration_means(episode_steps, episode_returns, batch_size)
    counts = np.unique(iteration_of(episode_steps, batch_size), return_counts=True)[1]
    # The per-iteration tags are logged at the iteration's last global step, k * batch_size.
    logged = {
        column: (iteration_of(steps, batch_size), values)
        for column, (steps, values) in logged.items()
    }
    last = max([0, *with_episodes, *(i for iterations, _ in logged.values() for i in iterations)])
    columns = {name: np.full(last, np.nan) for name in RECORD_COLUMNS[2:]}
    columns["mean_return"][with_episodes - 1] = significant(means)
    columns["episodes"][with_episodes - 1] = counts
    for column, (iterations, values) in logged.items():
        columns[column][iterations - 1] = significant(values)

    def number(key):
        return float(hparams[key]) if re.fullmatch(r"[0-9.eE+-]+", hparams.get(key, "")) else None

    return Run(
        env_id,
        exp_name,
        seed,
        Path(path).name,
        batch_size,
        assumed,
        planned,
        number("max_kl"),
        number("clip_coef"),
        columns,
    )


def load_runs(runs_dir, skipped):
    """Every run under runs_dir, from its event files; of several folders for one (env, name, seed),
    the newest. What is left out, and why, goes to skipped."""
    folders = defaultdict(list)  # (env_id, exp_name, seed) -> [(unix_time, path)]
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir()):
        parsed = parse_run_name(path.name)
        if parsed is None or not any(path.glob("events.out.tfevents.*")):
            skipped.append(f"skipped `{path.name}`: not a run folder named env__name__seed__time")
            continue
        env_id, exp_name, seed, unix_time = parsed
        folders[env_id, exp_name, seed].append((unix_time, path))
    runs = []
    for key, candidates in sorted(folders.items()):
        try:
            run = run_from_events(max(candidates)[1], *key)
        except ValueError as error:
            skipped.append(f"skipped `{max(candidates)[1].name}`: {error}")
            continue
        if len(candidates) > 1:
            # benchmark.sh clears an interrupted attempt before it runs the seed again; a folder
            # of scripts run by hand may still hold several.
            run.notes.append(f"{len(candidates)} run folders, used the newest")
        runs.append(run)
    return runs


# ==================================================================================================
# Records: one CSV per run, from which the whole report regenerates
# ==================================================================================================
def write_record(run, path):
    """The run as CSV: comment lines with its source and constants (floats as Python writes them,
    which read back exactly), then one row per iteration."""
    constants = {
        "run": run.source,
        "batch_size": run.batch_size,
        "batch_size_assumed": int(run.batch_size_assumed),
        "planned_iterations": run.planned_iterations,
        "max_kl": run.max_kl,
        "clip_coef": run.clip_coef,
    }
    lines = [
        f"# Per-iteration record of the run {run.source}, extracted from its event files by "
        "benchmark_report.py.",
        "# "
        + " ".join(f"{key}={'' if value is None else value}" for key, value in constants.items()),
        *(f"# note: {note}" for note in run.notes),
        ",".join(RECORD_COLUMNS),
    ]
    for i in range(len(run.columns["mean_return"])):
        row = [str(i + 1), str((i + 1) * run.batch_size)]
        for name in RECORD_COLUMNS[2:]:
            value = run.columns[name][i]
            row.append("" if np.isnan(value) else f"{value:.{SIGNIFICANT_DIGITS}g}")
        lines.append(",".join(row))
    staged(path).write_text("\n".join(lines) + "\n")


def read_record(path):
    """A Run from its record, the inverse of write_record. The record is checked as a whole, and a
    ValueError says what does not hold: its run named and stored under that name (one record per
    run), its constants, its header, one row per iteration 1, 2, ... at global step iteration *
    batch_size, numbers, and an episode count wherever there is a return. So its columns are as long
    as its rows, and nothing in it can size anything beyond its own length."""
    constants, notes, rows = {}, [], []
    with Path(path).open() as f:
        for line in f:
            if line.startswith("# note: "):
                notes.append(line[len("# note: ") :].rstrip("\n"))
            elif line.startswith("# run="):
                constants = dict(item.split("=", 1) for item in line[2:].split() if "=" in item)
            elif line.strip() and not line.startswith("#"):
                rows.append(line)
    if "run" not in constants or parse_run_name(constants["run"]) is None:
        raise ValueError("no `# run=...` line naming its run")
    env_id, exp_name, seed, _ = parse_run_name(constants["run"])
    if Path(path).stem != f"{env_id}__{exp_name}__{seed}":
        raise ValueError(
            f"it holds the run {constants['run']}, whose record is {env_id}__{exp_name}__{seed}.csv"
        )
    for key, valid in (
        ("batch_size", r"[1-9][0-9]*"),
        ("batch_size_assumed", "[01]"),
        ("planned_iterations", "[0-9]*"),
    ):
        if not re.fullmatch(valid, constants.get(key, "")):
            raise ValueError(f"{key}={constants.get(key, '')!r} in its `# run=` line")
    batch_size = int(constants["batch_size"])
    table = list(csv.reader(rows))
    if not table or table[0] != RECORD_COLUMNS:
        raise ValueError(f"its header is not {','.join(RECORD_COLUMNS)}")
    columns = {name: np.full(len(table) - 1, np.nan) for name in RECORD_COLUMNS[2:]}
    for i, row in enumerate(table[1:]):
        iteration = i + 1
        if row[:2] != [str(iteration), str(iteration * batch_size)] or len(row) != len(
            RECORD_COLUMNS
        ):
            raise ValueError(
                f"its row {iteration} is not iteration {iteration} at global step "
                f"{iteration * batch_size} with {len(RECORD_COLUMNS)} fields, but "
                f"`{','.join(row)[:60]}`"
            )
        for name, text in zip(RECORD_COLUMNS[2:], row[2:], strict=True):
            if text:
                columns[name][i] = float(text)  # a ValueError if it is no number
    returns, episodes = columns["mean_return"], columns["episodes"]
    counted = episodes[~np.isnan(episodes)]
    if np.any(np.isnan(returns) != np.isnan(episodes)) or np.any(
        (counted % 1 != 0) | (counted < 1)
    ):
        raise ValueError(
            "a mean return without its number of episodes (a whole number, 1 or more), "
            "or the reverse"
        )

    def optional(key, kind):
        return kind(float(constants[key])) if constants.get(key) else None

    return Run(
        env_id,
        exp_name,
        seed,
        constants["run"],
        batch_size,
        constants["batch_size_assumed"] == "1",
        int(constants["planned_iterations"]) if constants.get("planned_iterations") else None,
        optional("max_kl", float),
        optional("clip_coef", float),
        columns,
        notes,
    )


def load_records(records_dir, skipped):
    runs = []
    for path in sorted(Path(records_dir).glob("*.csv")):
        try:
            runs.append(read_record(path))
        except ValueError as error:  # a UnicodeDecodeError too
            skipped.append(f"skipped the record `{path.name}`: {error}")
    return sorted(runs, key=lambda r: (r.env_id, r.exp_name, r.seed))


def write_records(runs, records_dir, terminal_notes):
    records_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for run in runs:
        written.append(records_dir / f"{run.key}.csv")
        write_record(run, written[-1])
    for stale in sorted(set(records_dir.glob("*.csv")) - set(written)):
        terminal_notes.append(f"{stale} is not one of these runs (left from an earlier report?)")
    return written


# Each file of the report is written under a temporary name beside its own, and main renames them
# all over their own names only once every one is written: an interrupted or failed report (Ctrl-C,
# a full disk) leaves the previous report whole, and two reports at once each leave a whole one.
STAGED = []  # (temporary, final) paths of the report being written


def staged(path):
    """The temporary name to write instead of path, in its folder so that the rename is atomic."""
    path = Path(path)
    STAGED.append((path.with_name(f".{path.name}.{os.getpid()}.tmp"), path))
    return STAGED[-1][0]


def load_paper_table(path):
    """{(variant, env family): (mean, low, high)} from the paper's numbers as CSV; {} if absent."""
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
# Writing table.md
# ==================================================================================================
def order_envs(env_ids):
    """The paper's column order (Walker2d, Hopper, Humanoid), then other environments by name."""
    rank = {family: i for i, family in enumerate(PAPER_ENVS)}
    return sorted(set(env_ids), key=lambda e: (rank.get(env_family(e), len(rank)), e))


def order_variants(names):
    """The paper's variants in its order, then their time-limit-as-termination runs, then any other
    experiment name (a user's own variant) by name."""
    known = [
        v + suffix for suffix in ("", TLTERM_SUFFIX) for v in VARIANT_LABELS if v + suffix in names
    ]
    return known + sorted(set(names) - set(known))


def plot_label(exp_name):
    base = base_variant(exp_name)
    if base in VARIANT_LABELS:
        tlterm = ", time limit as termination" if exp_name != base else ""
        return VARIANT_LABELS[base] + tlterm
    # matplotlib leaves a label that starts with "_" out of the legend.
    return exp_name.lstrip("_") or exp_name


def label(exp_name):
    if base_variant(exp_name) in VARIANT_LABELS:
        return f"{plot_label(exp_name)} (`{exp_name}`)"
    return f"`{exp_name}`"


def number(x):
    text = f"{x:.0f}"
    return "0" if text == "-0" else text  # -0.3 rounds to "-0"


def cell(mean, low, high):
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def table_variants(names, table):
    """The rows of Table 1 or 2: its variants in the paper's order, then their
    time-limit-as-termination runs; Table 1 also takes every name that is not one of the paper's
    (a user's own variant)."""
    variants = TABLE_1 if table == "Table 1" else TABLE_2
    if table == "Table 2" and not any(base_variant(n) == "ppo_noclip" for n in names):
        return []
    rows = [v + suffix for suffix in ("", TLTERM_SUFFIX) for v in variants if v + suffix in names]
    if table == "Table 1":
        rows += sorted(n for n in names if base_variant(n) not in VARIANT_LABELS)
    return rows


def aggregates_by_group(runs, kind):
    """{(exp_name, env_id): [one aggregate per seed]}."""
    values = defaultdict(list)
    for run in runs:
        values[run.exp_name, run.env_id].append(aggregate(run.iteration_returns, kind))
    return values


def results_table(runs, kind, paper, table):
    """Table 1 or 2 in the paper's layout for one aggregate: per environment id our column, then the
    paper's column for that environment (the paper ran gym -v2)."""
    variants = table_variants({r.exp_name for r in runs}, table)
    if not variants:
        return None
    envs = order_envs(r.env_id for r in runs if r.exp_name in variants)
    values = aggregates_by_group(runs, kind)
    header = [""]
    for env in envs:
        header += [f"{env} (ours)", f"{env_family(env)}-v2 (paper)"]
    rows = []
    our_means = defaultdict(dict)  # env -> {variant: mean over seeds}
    for variant in variants:
        row = [label(variant)]
        for env in envs:
            if (variant, env) in values:
                mean, low, high = bootstrap_ci(values[variant, env])
                our_means[env][variant] = mean
                row.append(f"{cell(mean, low, high)} (n={len(values[variant, env])})")
            else:
                row.append("—")
            # The released code treats the time limit as a termination: its numbers sit beside both.
            paper_numbers = paper.get((base_variant(variant), env_family(env)))
            row.append(cell(*paper_numbers) if paper_numbers else "—")
        rows.append(row)
    if table == "Table 1":
        suffixes = [""] + (
            [TLTERM_SUFFIX] if any(v.endswith(TLTERM_SUFFIX) for v in variants) else []
        )
        for suffix in suffixes:
            for position, index_name in enumerate(("AAI", "ACLI")):
                row = [index_name + (" (time limit as termination)" if suffix else "")]
                for env in envs:
                    family = env_family(env)
                    paper_means = {
                        v: numbers[0] for (v, e), numbers in paper.items() if e == family
                    }
                    row.append(text_or_dash(aai_acli(our_means[env], suffix)[position]))
                    row.append(text_or_dash(aai_acli(paper_means)[position]))
                rows.append(row)
    title = f"## {table}. {AGGREGATES[kind]}; mean [{CONFIDENCE:.0%} bootstrap CI] (n = seeds)"
    return title + "\n\n" + markdown_table(header, rows)


def text_or_dash(value):
    return number(value) if value is not None else "—"


def trust_region_summary(run):
    """Per run, over its iterations: the mean and largest max ratio, the mean of the mean KL, the
    fraction of iterations outside the variant's own bound (max ratio > 1 + eps for PPO, mean KL >
    delta for TRPO), and for TRPO the iterations whose line search gave up and the largest KL after
    an accepted step."""
    max_ratio, mean_kl = run.logged("max_ratio")[1], run.logged("mean_kl")[1]
    summary = {
        "max_ratio": max_ratio.max() if len(max_ratio) else np.nan,
        "mean_max_ratio": max_ratio.mean() if len(max_ratio) else np.nan,
        "mean_kl": mean_kl.mean() if len(mean_kl) else np.nan,
    }
    if run.clip_coef is not None and len(max_ratio):
        summary["ratio_outside"] = float(np.mean(max_ratio > 1 + run.clip_coef))
    if run.max_kl is not None and len(mean_kl):
        summary["kl_outside"] = float(np.mean(mean_kl > run.max_kl))
    accepted = run.columns["accepted"]
    if len(accepted) and not np.all(np.isnan(accepted)):
        taken = accepted[~np.isnan(accepted)] > 0.5
        kl_after = run.logged("kl_after_step")[1]
        kl_taken = kl_after[taken] if len(kl_after) == len(taken) else np.array([])
        summary["gave_up"] = int((~taken).sum())
        summary["line_searches"] = len(taken)
        summary["max_kl_accepted"] = kl_taken.max() if len(kl_taken) else np.nan
    return summary


def fixed(value, fmt):
    """value in the format fmt, or a dash where there is none (NaN)."""
    return "—" if np.isnan(value) else format(value, fmt)


def bound_text(name, values):
    """(eps 0.2)" when every run of a group has the same bound, else nothing."""
    return f" ({name} {values.pop():g})" if len(values) == 1 and None not in values else ""


def trust_region_row(env, variant, runs):
    """One variant on one environment: the per-run summaries, averaged over its seeds."""
    summaries = [trust_region_summary(r) for r in runs]

    def mean_of(key):  # NaN unless every seed has the number
        return float(np.mean([s.get(key, np.nan) for s in summaries]))

    ratio_outside, kl_outside = mean_of("ratio_outside"), mean_of("kl_outside")
    return [
        env,
        label(variant),
        str(len(runs)),
        fixed(mean_of("mean_kl"), ".4f"),
        fixed(mean_of("mean_max_ratio"), ".2f"),
        fixed(max(s["max_ratio"] for s in summaries), ".2f"),
        fixed(ratio_outside, ".1%")
        + ("" if np.isnan(ratio_outside) else bound_text("eps", {r.clip_coef for r in runs})),
        fixed(kl_outside, ".1%")
        + ("" if np.isnan(kl_outside) else bound_text("delta", {r.max_kl for r in runs})),
    ]


def trust_region_section(runs):
    header = ["environment", "variant", "seeds", "mean KL", "max ratio, mean", "max ratio, largest"]
    header += ["iterations with max ratio > 1 + eps", "iterations with mean KL > delta"]
    rows = []
    for env in order_envs(r.env_id for r in runs):
        for variant in order_variants({r.exp_name for r in runs if r.env_id == env}):
            rows.append(
                trust_region_row(
                    env, variant, [r for r in runs if r.env_id == env and r.exp_name == variant]
                )
            )
    return (
        "## Trust region, per variant\n\n"
        "Mean over seeds of each run's mean over its iterations; the largest max ratio is over all "
        "iterations of all seeds. Each variant is held to its own bound: PPO's variants to 1 + eps "
        "(the clip epsilon), TRPO's to delta (max KL).\n\n" + markdown_table(header, rows)
    )


# ==================================================================================================
# Claims: the paper's claims and our comparisons, each judged by the one verdict rule (report_stats)
# ==================================================================================================
@dataclass
class Claim:
    """One claim on one environment: a statement that is true when its statistic is positive."""

    section: str  # one of CLAIM_SECTIONS
    text: str
    env: str
    pairing: str  # "unpaired", "paired by seed" or "one group": how the bootstrap resamples
    paper: str  # the paper's reading, or its value of the statistic
    verdicts: dict  # aggregate ("best", "last10", or "runs" for a per-run statistic) -> Verdict
    unit: str = ".0f"  # format of the statistic
    note: str = ""  # a claim that the rule does not judge says why here


CLAIM_SECTIONS = {
    "returns": "The paper's claims on returns (Tables 1 and 2)",
    "trust region": (
        "The paper's claims on the trust region (per run: the mean over its iterations)"
    ),
    "comparisons": "Comparisons that the paper did not make",
    "paper": "Against the paper's numbers: our mean minus the upper end of the paper's interval",
}
BY_CONSTRUCTION = "true by construction"


def acli_minus_aai(ppo, ppo_m, trpo, trpo_plus, axis=-1):
    """ACLI - AAI from four groups' returns per seed (the means taken along axis): positive when the
    code-level optimizations move the return more than the choice of PPO or TRPO."""
    ppo, ppo_m, trpo, trpo_plus = (np.mean(x, axis=axis) for x in (ppo, ppo_m, trpo, trpo_plus))
    aai = np.maximum(np.abs(ppo - trpo_plus), np.abs(ppo_m - trpo))
    acli = np.maximum(np.abs(ppo - ppo_m), np.abs(trpo_plus - trpo))
    return acli - aai


def per_seed(runs, value):
    """{(exp_name, env_id): {seed: value(run)}}."""
    values = defaultdict(dict)
    for run in runs:
        values[run.exp_name, run.env_id][run.seed] = value(run)
    return values


def signed(value, unit=".0f"):
    """+412, -3, 0: a difference with its sign; no "+0" or "-0"."""
    text = format(value, "+" + unit)
    return format(0.0, unit) if float(text) == 0 else text


def return_claims(runs, paper):
    """Per environment: ACLI > AAI, each variant with the optimizations above its minimal sibling,
    and PPO above PPO-NoClip (Table 2), on both aggregates, the groups resampled apart (no two
    variants share a run, whatever their seeds)."""
    scores = {
        kind: per_seed(runs, lambda r, kind=kind: aggregate(r.iteration_returns, kind))
        for kind in AGGREGATES
    }
    claims = []
    for env in order_envs(r.env_id for r in runs):
        family = env_family(env)
        paper_means = {v: numbers[0] for (v, e), numbers in paper.items() if e == family}

        def add(text, variants, statistic, paper_value, env=env):
            if all((v, env) in scores["best"] for v in variants):
                verdicts = {
                    kind: report_stats.judge(
                        [list(scores[kind][v, env].values()) for v in variants], statistic
                    )
                    for kind in AGGREGATES
                }
                claims.append(Claim("returns", text, env, "unpaired", paper_value, verdicts))

        aai, acli = aai_acli(paper_means)
        add(
            "ACLI > AAI: the optimizations move the return more than PPO's or TRPO's step",
            TABLE_1,
            acli_minus_aai,
            signed(acli - aai) if aai is not None else "—",
        )
        for better, worse, why in (
            ("ppo_continuous", "ppo_m", "the optimizations raise PPO's return"),
            ("trpo_plus", "trpo", "the optimizations raise TRPO's return"),
            ("ppo_continuous", "ppo_noclip", "clipping the surrogate raises the return"),
        ):
            value = (
                signed(paper_means[better] - paper_means[worse])
                if {better, worse} <= set(paper_means)
                else "—"
            )
            text = f"{VARIANT_LABELS[better]} > {VARIANT_LABELS[worse]}: {why}"
            add(text, [better, worse], report_stats.difference_of_means, value)
    return claims


def trust_region_claims(runs):
    """Per environment, from each run's mean over its iterations of the mean KL and of the max
    ratio: PPO-M leaves the trust region more than PPO, PPO-NoClip does not (the paper: about as
    PPO), PPO's max ratio passes 1 + eps, and TRPO's mean KL stays within delta, which the rule
    does not judge."""
    summaries = {run.key: trust_region_summary(run) for run in runs}
    measures = {"mean KL": "mean_kl", "max ratio": "mean_max_ratio"}
    values = {
        m: per_seed(runs, lambda r, key=key: summaries[r.key][key]) for m, key in measures.items()
    }
    units = {"mean KL": ".4f", "max ratio": ".2f"}
    claims = []
    for env in order_envs(r.env_id for r in runs):
        for other, paper_reading in (
            ("ppo_m", "yes: larger"),
            ("ppo_noclip", "no: about as PPO's"),
        ):
            for measure in measures:
                groups = [values[measure].get((v, env)) for v in (other, "ppo_continuous")]
                if None in groups:
                    continue
                text = f"{VARIANT_LABELS[other]}'s {measure} > PPO's"
                verdict = report_stats.judge(
                    [list(g.values()) for g in groups], report_stats.difference_of_means
                )
                claims.append(
                    Claim(
                        "trust region",
                        text,
                        env,
                        "unpaired",
                        paper_reading,
                        {"runs": verdict},
                        units[measure],
                    )
                )
        ppo = [r for r in runs if r.env_id == env and r.exp_name == "ppo_continuous"]
        if ppo and len({r.clip_coef for r in ppo}) == 1 and ppo[0].clip_coef is not None:
            bound = 1 + ppo[0].clip_coef
            verdict = report_stats.judge(
                [[summaries[r.key]["mean_max_ratio"] for r in ppo]],
                lambda x, axis=-1, bound=bound: np.mean(x, axis=axis) - bound,
            )
            text = f"PPO's max ratio > 1 + eps = {bound:g}: clipping does not bound the ratio"
            claims.append(
                Claim("trust region", text, env, "one group", "yes", {"runs": verdict}, ".2f")
            )
        trpo = [
            r for r in runs if r.env_id == env and base_variant(r.exp_name) in ("trpo", "trpo_plus")
        ]
        trpo = [r for r in trpo if r.max_kl is not None and len(r.logged("mean_kl")[1])]
        if trpo:
            above = sum(int(np.sum(r.logged("mean_kl")[1] > r.max_kl)) for r in trpo)
            total = sum(len(r.logged("mean_kl")[1]) for r in trpo)
            largest_ratio = max(summaries[r.key]["max_ratio"] for r in trpo)
            note = (
                f"mean KL above delta in {above} of {total} iterations ({len(trpo)} runs); "
                f"their max ratio reached {largest_ratio:.0f}"
            )
            claims.append(
                Claim(
                    "trust region",
                    "TRPO's and TRPO+'s mean KL <= delta",
                    env,
                    "—",
                    "yes",
                    {},
                    note=note,
                )
            )
    return claims


def comparison_claims(runs):
    """Time limit as termination against the default bootstrap, per variant, paired by seed (an
    as-termination run is the same seed's default run until the first truncation); one environment
    in two versions (Walker2d-v4 and -v5), per variant, unpaired (two models share nothing)."""
    scores = {
        kind: per_seed(runs, lambda r, kind=kind: aggregate(r.iteration_returns, kind))
        for kind in AGGREGATES
    }
    names = order_variants({r.exp_name for r in runs})
    envs = order_envs(r.env_id for r in runs)
    claims = []
    for variant in names:
        base = base_variant(variant)
        for env in envs:
            if (
                variant == base
                or (variant, env) not in scores["best"]
                or (base, env) not in scores["best"]
            ):
                continue
            seeds = sorted(set(scores["best"][base, env]) & set(scores["best"][variant, env]))
            verdicts = {
                kind: report_stats.judge(
                    [[scores[kind][name, env][s] for s in seeds] for name in (base, variant)],
                    report_stats.difference_of_means,
                    paired=True,
                )
                for kind in AGGREGATES
            }
            text = (
                f"{plot_label(base)}: "
                "bootstrapping the time limit scores above taking it as a termination"
            )
            claims.append(Claim("comparisons", text, env, "paired by seed", "—", verdicts))
    for variant in names:
        present = [env for env in envs if (variant, env) in scores["best"]]
        for old, new in combinations(present, 2):
            if env_family(old) == env_family(new):
                verdicts = {
                    kind: report_stats.judge(
                        [list(scores[kind][variant, env].values()) for env in (old, new)],
                        report_stats.difference_of_means,
                    )
                    for kind in AGGREGATES
                }
                text = f"{plot_label(variant)}: lower on {new} than on {old}"
                claims.append(
                    Claim("comparisons", text, f"{old}, {new}", "unpaired", "—", verdicts)
                )
    return claims


def paper_claims(runs, paper):
    """Per cell of Tables 1 and 2 (time-limit-as-termination rows beside the paper's number of their
    variant): is our mean above the upper end of the paper's interval?"""
    scores = {
        kind: per_seed(runs, lambda r, kind=kind: aggregate(r.iteration_returns, kind))
        for kind in AGGREGATES
    }
    claims = []
    for env in order_envs(r.env_id for r in runs):
        for variant in order_variants({r.exp_name for r in runs if r.env_id == env}):
            numbers = paper.get((base_variant(variant), env_family(env)))
            if numbers is None:
                continue
            high = numbers[2]

            def above(x, axis=-1, high=high):
                return np.mean(x, axis=axis) - high

            verdicts = {
                kind: report_stats.judge([list(scores[kind][variant, env].values())], above)
                for kind in AGGREGATES
            }
            text = f"{plot_label(variant)} above the paper's interval"
            claims.append(Claim("paper", text, env, "one group", cell(*numbers), verdicts))
    return claims


def all_claims(runs, paper):
    return (
        return_claims(runs, paper)
        + trust_region_claims(runs)
        + comparison_claims(runs)
        + paper_claims(runs, paper)
    )


def interval_text(low, high, unit):
    return f"[{fixed_signless(low, unit)}, {fixed_signless(high, unit)}]"


def fixed_signless(value, unit):
    text = format(value, unit)
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0"


def verdict_cell(verdict, unit=".0f"):
    """+412 [-120, 903], P=0.81: **leans**"""
    interval = interval_text(verdict.low, verdict.high, unit)
    return f"{signed(verdict.estimate, unit)} {interval}, P={verdict.p:.2f}: **{verdict.word}**"


def pairs_text(n):
    """1 pair, 3 pairs"""
    return f"{n} pair" if n == 1 else f"{n} pairs"


def counts_text(claim):
    verdict = next(iter(claim.verdicts.values()), None)
    if verdict is None:
        return "—"
    counts = verdict.counts
    if claim.pairing == "paired by seed":
        return pairs_text(counts[0])
    if len(set(counts)) == 1 and len(counts) > 1:
        return f"{counts[0]} each"
    return ", ".join(str(n) for n in counts)


def claims_section(claims):
    """The verdict rule, then one table per section of claims."""
    if not claims:
        return None
    parts = ["## Claims and verdicts\n", report_stats.VERDICT_RULE + "\n"]
    aggregate_header = ["best iteration", f"last {LAST_ITERATIONS} iterations"]
    for section, title in CLAIM_SECTIONS.items():
        chosen = [c for c in claims if c.section == section]
        if not chosen:
            continue
        rows = []
        for claim in chosen:
            if claim.note:
                cells = [claim.note + f": **{BY_CONSTRUCTION}**"]
            else:
                cells = [verdict_cell(v, claim.unit) for v in claim.verdicts.values()]
            rows.append(
                [claim.text, claim.env, claim.pairing, claim.paper, *cells, counts_text(claim)]
            )
        statistic_header = (
            ["statistic [interval], P: verdict"] if section == "trust region" else aggregate_header
        )
        header = ["claim", "environment", "resampled", "paper", *statistic_header, "runs"]
        parts.append(f"### {title}\n\n" + markdown_table(header, rows))
        if section == "trust region" and any(c.note for c in chosen):
            parts.append(
                "TRPO's mean KL is true by construction, not a finding: the logged mean KL is the "
                "one that the line search checks on the training batch before it accepts a step, "
                "so it stays within delta unless the line search is broken. The paper measured it "
                "on held-out states as well (the released code's logging rollout), where it could "
                "have failed; these runs do not.\n"
            )
    return "\n".join(parts)


def per_run_table(runs):
    header = [
        "environment",
        "variant",
        "seed",
        "iterations",
        "batch size",
        "best iteration",
        "last 10",
    ]
    header += [
        "largest max ratio",
        "mean of mean KL",
        "line search gave up",
        "largest KL of a step taken (bound)",
    ]
    rows = []
    envs = order_envs(r.env_id for r in runs)
    for run in sorted(runs, key=lambda r: (envs.index(r.env_id), r.exp_name, r.seed)):
        tr = trust_region_summary(run)
        trpo = ["—", "—"]
        if "gave_up" in tr:
            bound = f" ({run.max_kl:g})" if run.max_kl is not None else ""
            trpo = [
                f"{tr['gave_up']} of {tr['line_searches']}",
                f"{tr['max_kl_accepted']:.4f}{bound}",
            ]
        iterations = (
            f"{run.done_iterations}{'' if run.complete else f' of {run.planned_iterations}'}"
        )
        rows.append(
            [
                run.env_id,
                f"`{run.exp_name}`",
                str(run.seed),
                iterations,
                str(run.batch_size),
                number(aggregate(run.iteration_returns, "best")),
                number(aggregate(run.iteration_returns, "last10")),
                f"{tr['max_ratio']:.2f}",
                f"{tr['mean_kl']:.4f}",
                *trpo,
            ]
        )
    return markdown_table(header, rows)


def run_notes(runs):
    """What a reader of table.md should know about single runs; the same from events and records."""
    notes = []
    for run in runs:
        notes += [f"`{run.source}`: {note}" for note in run.notes]
        if run.batch_size_assumed:
            notes.append(
                f"`{run.source}`: no batch size in its hyperparameters, assumed "
                f"{DEFAULT_BATCH_SIZE}"
            )
        if len(run.iterations) == 0:
            notes.append(f"`{run.source}` has no finished episodes; left out")
    return notes


# What an iteration's return is here, and how it differs from the released code's: said once,
# in table.md.
RETURN_PROTOCOL = (
    "**The return of an iteration** is the mean undiscounted return of the training episodes that "
    "ended in it, wherever they began: episodes run on across iterations here, so an iteration's "
    "mean also counts episodes begun under the previous policy. The released code resets the "
    "environment at the start of every iteration and counts only the episodes begun and ended "
    "inside it (the cut last one dropped), so its per-iteration means are a different measurement "
    "of the same policies. Neither runs separate evaluation episodes. The released configs that "
    "turn on its trust-region logging (most of Table 1's and all of PPO-NoClip's) also run an "
    "extra held-out rollout every tenth iteration, whose observations and rewards feed the running "
    "statistics; these runs have none."
)


def write_table_md(runs, paper, notes, path, claims=()):
    parts = [
        "# Results in the layout of the paper's Tables 1 and 2\n",
        RETURN_PROTOCOL + "\n",
        f"CI: percentile bootstrap over seeds (`scipy.stats.bootstrap`), {N_RESAMPLES} resamples, "
        f"RNG seed {BOOTSTRAP_SEED}; with a handful of seeds it shows how far apart they are, and "
        "is too narrow as a CI.\n",
        "AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|), from "
        "the means; shown only where all four variants ran.\n",
    ]
    if paper:
        parts.append(
            "Paper: Engstrom et al. 2020, Tables 1 and 2 (gym -v2 environments, about 40 agents "
            "per cell). It does not say which aggregate it reports; the authors' analysis code "
            "takes each agent's best iteration, so compare it with the best-iteration tables "
            "first. The released code treats the time limit as a termination, so the paper's "
            "number also stands beside our time-limit-as-termination rows. Its AAI and ACLI here "
            "come from its rounded means (for Hopper's ACLI the paper prints 421, the rounded "
            "means give 423).\n"
        )
    else:
        parts.append("The paper's numbers were not found, so their columns are empty.\n")
    complete = [run for run in runs if run.complete]
    for run in runs:
        if not run.complete:
            notes.append(
                f"`{run.source}` has {run.done_iterations} of {run.planned_iterations} iterations "
                "(still running, or stopped): in the per-run table and the plots, "
                "not in the tables above"
            )
    if not complete:
        parts.append("No run has finished yet.\n")
    for table in ("Table 1", "Table 2"):
        for kind in AGGREGATES:
            parts.append(results_table(complete, kind, paper, table))
    if complete:
        parts += [claims_section(claims), trust_region_section(complete)]
    parts.append("## Per run\n\n" + per_run_table(runs))
    if notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    staged(path).write_text("\n".join(part for part in parts if part) + "\n")


# ==================================================================================================
# Figures
# ==================================================================================================
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


def variant_colours(runs):
    """One colour per experiment name, the same in every figure."""
    names = order_variants({r.exp_name for r in runs})
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def plot_series(ax, steps, matrix, name, colour):
    """Faint: the mean over seeds of each iteration. Solid: the mean over seeds of each seed's
    rolling mean, with its bootstrap band; one iteration's mean of two or three episodes is too
    noisy to read."""
    ax.plot(steps, column_means(matrix), color=colour, alpha=0.25, linewidth=0.6)
    mean, low, high = mean_and_band(rolling_mean(matrix, SMOOTHING_WINDOW))
    ax.plot(steps, mean, color=colour, label=name)
    ax.fill_between(steps, low, high, color=colour, alpha=0.15, linewidth=0)


def steps_axis(ax):
    """Environment steps in millions on the x-axis, the same in every figure."""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if x else "0"))
    ax.set_xlabel("environment steps")
    ax.grid(alpha=0.3)


def how_to_read():
    """Legend entries that say what the faint line and the band are."""
    return [
        Line2D([], [], color="gray", alpha=0.4, linewidth=0.6, label="faint: each iteration"),
        Line2D(
            [],
            [],
            color="gray",
            alpha=0.3,
            linewidth=6,
            label=f"band: {CONFIDENCE:.0%} bootstrap CI over seeds",
        ),
    ]


def plot_learning_curves(runs, out):
    colours = variant_colours(runs)
    written = []
    for env in order_envs(r.env_id for r in runs):
        fig = Figure(figsize=(9, 4.5), layout="constrained")
        ax = fig.subplots()
        for variant in order_variants({r.exp_name for r in runs if r.env_id == env}):
            group = [r for r in runs if r.env_id == env and r.exp_name == variant]
            matrix = series_matrix([(r.iterations, r.iteration_returns) for r in group])
            steps = np.arange(1, matrix.shape[1] + 1) * group[0].batch_size
            plot_series(
                ax, steps, matrix, f"{plot_label(variant)} (n={len(group)})", colours[variant]
            )
        ax.set(
            title=f"{env}: learning curves, mean over seeds",
            ylabel="mean return of the iteration's episodes\n"
            f"(rolling mean over {SMOOTHING_WINDOW} iterations)",
        )
        steps_axis(ax)
        handles = ax.get_legend_handles_labels()[0] + how_to_read()
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            borderaxespad=0,
            fontsize="small",
        )
        written.append(Path(out) / f"curves_{env}.png")
        fig.savefig(staged(written[-1]), dpi=120, format="png")
    return written


def plot_trust_region(runs, out):
    """Mean KL and max ratio per iteration, one line per variant: the paper's trust-region plots."""
    colours = variant_colours(runs)
    written = []
    for env in order_envs(r.env_id for r in runs):
        env_runs = [r for r in runs if r.env_id == env and len(r.logged("mean_kl")[1])]
        if not env_runs:
            continue
        fig = Figure(figsize=(9, 7), layout="constrained")
        ax_kl, ax_ratio = fig.subplots(2, 1, sharex=True)
        for variant in order_variants({r.exp_name for r in env_runs}):
            group = [r for r in env_runs if r.exp_name == variant]
            for ax, column in ((ax_kl, "mean_kl"), (ax_ratio, "max_ratio")):
                matrix = series_matrix([r.logged(column) for r in group])
                steps = np.arange(1, matrix.shape[1] + 1) * group[0].batch_size
                plot_series(
                    ax, steps, matrix, f"{plot_label(variant)} (n={len(group)})", colours[variant]
                )
            # TRPO's bound delta, in the variant's colour: its mean KL should stay under it.
            for max_kl in sorted({r.max_kl for r in group if r.max_kl is not None}):
                ax_kl.axhline(
                    max_kl,
                    color=colours[variant],
                    linestyle="--",
                    linewidth=1,
                    label=f"{plot_label(variant)}: delta = {max_kl:g}",
                )
        for clip_coef in sorted({r.clip_coef for r in env_runs if r.clip_coef is not None}):
            ax_ratio.axhline(
                1 + clip_coef,
                color="gray",
                linestyle="--",
                linewidth=1,
                label=f"1 + eps = {1 + clip_coef:g}",
            )
        ax_kl.set(
            title=f"{env}: trust region, mean over seeds",
            ylabel=f"mean KL(old || new)\n(rolling mean over {SMOOTHING_WINDOW} iterations)",
        )
        ax_ratio.set(
            ylabel=f"max ratio pi_new / pi_old\n(rolling mean over {SMOOTHING_WINDOW} iterations)",
            yscale="log",
        )
        # Plain numbers (2, 3, 10) rather than 2 x 10^0 on the log axis, some minor ticks labelled
        # where the axis spans up to two decades.
        ax_ratio.yaxis.set_major_formatter(LogFormatter())
        ax_ratio.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))
        for ax in (ax_kl, ax_ratio):
            steps_axis(ax)
            handles = ax.get_legend_handles_labels()[0] + (how_to_read() if ax is ax_kl else [])
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.01, 1),
                borderaxespad=0,
                fontsize="small",
            )
        ax_kl.set_xlabel("")
        written.append(Path(out) / f"trust_region_{env}.png")
        fig.savefig(staged(written[-1]), dpi=120, format="png")
    return written


# ==================================================================================================
# The ablation (benchmark.sh --ablation)
# ==================================================================================================
def ablation_scores(runs, kind):
    """{(env, combination, seed): one aggregate}; a combination is the four switches' on/off."""
    return {
        (r.env_id, tuple(ablation_switches(r.exp_name).values()), r.seed): aggregate(
            r.iteration_returns, kind
        )
        for r in runs
    }


def ablation_pairs(runs, kind, scaled=None):
    """{env: {switch: [(on, off)]}}: per switch, the two runs of each configuration of the other
    three switches and each seed, with the switch on and off. Pairing takes out the other switches'
    effects and the seed's, which the paper's on-against-off histograms leave in. scaled: only the
    pairs with reward scaling on (True) or off (False), for the other three switches."""
    scores = ablation_scores(runs, kind)
    pairs = defaultdict(lambda: {switch: [] for switch in ABLATION_SWITCHES})
    scaling = ABLATION_SWITCHES.index("scale_reward")
    # Sorted: the same pairs in the same order every time.
    for env, combination, seed in sorted(scores):
        if scaled is not None and combination[scaling] != scaled:
            continue
        for i, switch in enumerate(ABLATION_SWITCHES):
            if combination[i] and not (scaled is not None and i == scaling):
                off = (env, combination[:i] + (False,) + combination[i + 1 :], seed)
                if off in scores:
                    pairs[env][switch].append((scores[env, combination, seed], scores[off]))
    return pairs


def combination_code(combination):
    """(True, False, True, False) -> "1010", the switches in ABLATION_SWITCHES' order."""
    return "".join("1" if on else "0" for on in combination)


def ablation_grid(runs, complete):
    """Per environment: (finished runs, seeds seen, missing runs by seed), where seeds seen are
    those of any ablation run in it, finished or not, and a finished run is one in `complete`."""
    all_combinations = [
        tuple(bool(c >> i & 1) for i in range(len(ABLATION_SWITCHES))) for c in range(16)
    ]
    grid = {}
    for env in order_envs(r.env_id for r in runs):
        seeds = sorted({r.seed for r in runs if r.env_id == env})
        done = {
            (tuple(ablation_switches(r.exp_name).values()), r.seed)
            for r in complete
            if r.env_id == env
        }
        missing = {
            seed: [c for c in sorted(all_combinations, reverse=True) if (c, seed) not in done]
            for seed in seeds
        }
        grid[env] = (len(done), seeds, {seed: combos for seed, combos in missing.items() if combos})
    return grid


# The paper's reading of its Fig. 1, per switch: the direction of the effect on the return.
ABLATION_PAPER = {
    "clip_vloss": "no gain",
    "scale_reward": "up",
    "ortho_init": "up",
    "anneal_lr": "up",
}
NO_LR_SWEEP = (
    "Unlike the paper, there is no learning-rate sweep: every combination runs with the "
    "environment's released PPO learning rates, where the paper took the best of several learning "
    "rates for each combination."
)


def paper_reading(switch, verdict, short=False):
    """Our verdict on "the switch raises the return" against the paper's reading of it: the paper's
    "up" is borne out by holds alone, its "no gain" by anything but holds (contradicted: the switch
    even lowers the return). short: agrees / disagrees / not shown, for the figure's titles."""
    up, word = ABLATION_PAPER[switch] == "up", verdict.word
    if word == "too few runs":
        agrees, text = None, "too few runs to tell"
    elif word == "holds":
        agrees, text = up, "as the paper" if up else "against the paper: a gain"
    elif word == "contradicted":
        agrees, text = not up, ("against" if up else "as") + " the paper; it lowers the return"
    else:
        agrees, text = (None, "the paper's gain not shown") if up else (True, "as the paper")
    if short:
        return {True: "agrees", False: "disagrees", None: "not shown"}[agrees]
    return text


def switch_flag(switch):
    return f"--{switch.replace('_', '-')}"


def ablation_claims(runs):
    """{env: {switch: {kind: Verdict}}}: the claim that the switch raises the return, judged on the
    paired on-minus-off differences by the verdict rule."""
    pairs = {kind: ablation_pairs(runs, kind) for kind in AGGREGATES}
    claims = defaultdict(dict)
    for env in order_envs(r.env_id for r in runs):
        for switch in ABLATION_SWITCHES:
            chosen = {kind: pairs[kind][env][switch] for kind in AGGREGATES}
            if chosen["best"]:
                claims[env][switch] = {kind: judge_pairs(chosen[kind]) for kind in AGGREGATES}
    return claims


def judge_pairs(pairs):
    """The verdict on "on minus off > 0" over [(on, off)] pairs, resampled together."""
    return report_stats.judge(np.array(pairs).T, report_stats.difference_of_means, paired=True)


SCALING_SPLIT = (
    "Value clipping's bound (`--clip-vloss-coef` 0.2) is absolute, in units of the reward the "
    "value net is fitted to: each iteration a state's value may move 0.2 before the loss stops "
    "pulling it. With reward scaling the targets are of order 1; without it they are sums of raw "
    "rewards, in the hundreds on Walker2d and Humanoid. So each other switch's effect is also "
    "shown apart with reward scaling on and off (best iteration, the same verdict rule, pairs as "
    "above)."
)


def ablation_split_claims(runs):
    """{env: {switch: {scaled: Verdict}}}: the claim that a switch other than reward scaling raises
    the best-iteration return, judged apart with reward scaling on and off."""
    split = {scaled: ablation_pairs(runs, "best", scaled) for scaled in (True, False)}
    claims = defaultdict(dict)
    for env in order_envs(r.env_id for r in runs):
        for switch in ABLATION_SWITCHES:
            if switch == "scale_reward":
                continue
            claims[env][switch] = {
                scaled: judge_pairs(split[scaled][env][switch])
                for scaled in (True, False)
                if split[scaled][env][switch]
            }
    return claims


def missing_text(missing):
    """{seed: [combination]} -> "seed 2: 0110, 1110; seed 3: all 16"."""
    parts = []
    for seed, combos in missing.items():
        listed = "all 16" if len(combos) == 16 else ", ".join(combination_code(c) for c in combos)
        parts.append(f"seed {seed}: {listed}")
    return "; ".join(parts)


def combinations_table(runs, envs):
    """Best-iteration return of each of the 16 combinations, mean [CI] over seeds."""
    header = [*(f"`{switch_flag(s)}`" for s in ABLATION_SWITCHES), *envs]
    values = defaultdict(list)  # (combination, env) -> best iteration per seed
    for (env, combination, _), value in sorted(ablation_scores(runs, "best").items()):
        values[combination, env].append(value)
    rows = []
    for combination in sorted({c for c, _ in values}, reverse=True):
        row = ["on" if on else "off" for on in combination]
        for env in envs:
            seeds = values.get((combination, env))
            row.append(f"{cell(*bootstrap_ci(seeds))} (n={len(seeds)})" if seeds else "—")
        rows.append(row)
    return f"## {AGGREGATES['best']}, per combination\n\n" + markdown_table(header, rows)


def write_ablation(runs, out):
    """The paper's Fig. 1 from the ablation runs: per switch, the paired effect of turning it on,
    the verdict on "it raises the return", and a figure per environment. An unfinished run counts
    as missing."""
    complete = [r for r in runs if r.complete]
    envs = order_envs(r.env_id for r in runs)
    grid = ablation_grid(runs, complete)
    claims = ablation_claims(complete)
    codes = ", ".join(f"`{switch_flag(s)}`" for s in ABLATION_SWITCHES)
    parts = [
        "# Ablation in the manner of the paper's Fig. 1 (ppo_continuous, 16 on/off combinations)\n",
        NO_LR_SWEEP + "\n",
        "Effect of a switch: per configuration of the other three switches and per seed, the run "
        "with it on minus the run with it off, averaged over these pairs; its interval resamples "
        "the pairs (paired by seed and configuration). The paper's reading of its Fig. 1: reward "
        "scaling, learning-rate annealing and orthogonal init raise the return, value clipping "
        'gives no gain. Against it, on the best iteration (the paper\'s aggregate): an "up" is '
        'borne out by **holds** alone, "no gain" by every verdict but **holds** '
        "(**contradicted**: the switch lowers the return).\n",
        report_stats.VERDICT_RULE + "\n",
    ]
    rows = []
    for env in envs:
        done, seeds, missing = grid[env]
        counts = [
            claims[env][s]["best"].counts[0] if s in claims[env] else 0 for s in ABLATION_SWITCHES
        ]
        pair_counts = ", ".join(
            f"`{switch_flag(s)}` {n}" for s, n in zip(ABLATION_SWITCHES, counts, strict=True)
        )
        pair_counts += f" (of {8 * len(seeds)})"
        seeds_text = ", ".join(str(s) for s in seeds)
        rows.append(
            [
                env,
                f"{done} of {16 * len(seeds)} (16 x seeds {seeds_text})",
                pair_counts,
                missing_text(missing) or "—",
            ]
        )
    parts.append(
        f"## The grid: finished runs, pairs per switch, missing runs (as {codes} on/off, 1/0)\n\n"
        + markdown_table(["environment", "finished runs", "pairs per switch", "missing"], rows)
    )
    for env in envs:
        rows = []
        for switch in ABLATION_SWITCHES:
            verdicts = claims[env].get(switch)
            cells = (
                [verdict_cell(verdicts[kind]) for kind in AGGREGATES] if verdicts else ["—", "—"]
            )
            pairs = f"{verdicts['best'].counts[0]}" if verdicts else "0"
            reading = paper_reading(switch, verdicts["best"]) if verdicts else "—"
            rows.append(
                [
                    f"`{switch_flag(switch)}` raises the return",
                    ABLATION_PAPER[switch],
                    *cells,
                    pairs,
                    reading,
                ]
            )
        header = [
            "claim",
            "paper",
            "best iteration",
            f"last {LAST_ITERATIONS} iterations",
            "pairs",
            "against the paper (best iteration)",
        ]
        parts.append(
            f"## {env}: effect of turning each switch on\n\n" + markdown_table(header, rows)
        )
    split = ablation_split_claims(complete)
    parts.append(SCALING_SPLIT + "\n")
    for env in envs:
        rows = []
        for switch, verdicts in split[env].items():
            cells = [verdict_cell(verdicts[s]) if s in verdicts else "—" for s in (True, False)]
            counts = [str(verdicts[s].counts[0]) if s in verdicts else "0" for s in (True, False)]
            rows.append([f"`{switch_flag(switch)}` raises the return", *cells, " / ".join(counts)])
        header = [
            "claim",
            "with `--scale-reward`",
            "with `--no-scale-reward`",
            "pairs (with / without)",
        ]
        parts.append(
            f"## {env}: the effect with reward scaling on and off (best iteration)\n\n"
            + markdown_table(header, rows)
        )
    parts.append(combinations_table(complete, envs))
    staged(Path(out, "ablation.md")).write_text("\n".join(parts) + "\n")
    written = [Path(out) / "ablation.md"]
    for env in envs:
        written.append(plot_ablation(env, complete, claims[env], out))
    return written, claims, grid, split


def plot_ablation(env, runs, claims, out):
    """Per switch and aggregate, each run's return with the switch off and on, a line joining the
    two runs of a pair: the distribution of each side, and how each configuration moved."""
    pairs = {
        kind: ablation_pairs([r for r in runs if r.env_id == env], kind)[env] for kind in AGGREGATES
    }
    fig = Figure(figsize=(12, 7), layout="constrained")
    axes = fig.subplots(len(AGGREGATES), len(ABLATION_SWITCHES), sharey="row", squeeze=False)
    for row, kind in enumerate(AGGREGATES):
        for col, switch in enumerate(ABLATION_SWITCHES):
            ax = axes[row, col]
            chosen = np.array(pairs[kind][switch]).reshape(-1, 2)
            jitter = (
                np.linspace(-0.08, 0.08, len(chosen)) if len(chosen) > 1 else np.zeros(len(chosen))
            )
            for (on, off), dx in zip(chosen, jitter, strict=True):
                colour = "C2" if on > off else "C3"
                ax.plot([0 + dx, 1 + dx], [off, on], color=colour, alpha=0.35, linewidth=0.8)
            ax.scatter(jitter, chosen[:, 1], s=12, color="gray", zorder=3)
            ax.scatter(1 + jitter, chosen[:, 0], s=12, color="black", zorder=3)
            if len(chosen):
                means = chosen.mean(axis=0)
                ax.hlines(
                    [means[1], means[0]],
                    [-0.3, 0.7],
                    [0.3, 1.3],
                    color="C0",
                    linewidth=2.5,
                    zorder=4,
                )
            ax.set_xticks([0, 1], ["off", "on"])
            ax.set_xlim(-0.5, 1.5)
            ax.grid(axis="y", alpha=0.3)
            verdict = claims.get(switch, {}).get(kind)
            title = f"{SWITCH_NAMES[switch]} ({switch_flag(switch)})"
            if verdict is not None:
                interval = interval_text(verdict.low, verdict.high, ".0f")
                title += f"\non - off {signed(verdict.estimate)} {interval}"
                reading = paper_reading(switch, verdict, short=True)
                title += f"\n{verdict.word}; paper: {ABLATION_PAPER[switch]} ({reading})"
            ax.set_title(title, fontsize="medium")
        axes[row, 0].set_ylabel(f"{AGGREGATES[kind].split(':')[0].lower()} return")
    n_pairs = max((len(p) for p in pairs["best"].values()), default=0)
    fig.suptitle(
        f"{env}: ablation of PPO's four switches, each run's return with the switch off and on\n"
        f"lines join the two runs of a pair (same other switches, same seed; green: on is higher), "
        f"blue: the mean; up to {pairs_text(n_pairs)} per switch; "
        "no learning-rate sweep, unlike the paper",
        fontsize="medium",
    )
    path = Path(out) / f"ablation_{env}.png"
    fig.savefig(staged(path), dpi=110, format="png")
    return path


# ==================================================================================================
# The results summary: summary.md, and the README's two blocks between their marker lines
# ==================================================================================================
SUMMARY_START = "<!-- results summary: written by benchmark_report.py, do not edit -->"
SUMMARY_END = "<!-- end of results summary -->"
HEADLINE_START = "<!-- headline: written by benchmark_report.py, do not edit -->"
HEADLINE_END = "<!-- end of headline -->"
README_BLOCKS = {  # name: (first line, last line); the report writes what lies between them
    "headline": (HEADLINE_START, HEADLINE_END),
    "results-summary": (SUMMARY_START, SUMMARY_END),
}
SWITCH_NAMES = {
    "clip_vloss": "value clipping",
    "scale_reward": "reward scaling",
    "ortho_init": "orthogonal init",
    "anneal_lr": "learning-rate annealing",
}


def short_cell(verdict, unit=".0f"):
    """**leans** +412 [-120, 903], P=0.81"""
    interval = interval_text(verdict.low, verdict.high, unit)
    return f"**{verdict.word}** {signed(verdict.estimate, unit)} {interval}, P={verdict.p:.2f}"


def seeds_text(runs):
    """ "3 seeds per cell" or "2 to 3 seeds per cell"."""
    counts = defaultdict(int)
    for run in runs:
        counts[run.exp_name, run.env_id] += 1
    low, high = min(counts.values()), max(counts.values())
    return f"{low} seeds per cell" if low == high else f"{low} to {high} seeds per cell"


def steps_text(runs):
    """ "1M" for runs of 488 x 2048 steps (in millions to one decimal), "24576" for short test runs;
    a range if the runs differ."""
    steps = sorted({r.batch_size * r.done_iterations for r in runs})
    texts = [f"{round(n / 1e6, 1):g}M" if n >= 100_000 else str(n) for n in (steps[0], steps[-1])]
    return "-".join(dict.fromkeys(texts))


def results_summary(table_runs, claims, ablation, link):
    """summary.md: the findings in a few lines, every number from the claims above; `link` is the
    results folder as seen from where the summary goes ("" beside table.md)."""
    lines = []
    if claims:
        lines.append(
            f"From the {len(table_runs)} finished runs in [`records/`]({link}records/) "
            f"({seeds_text(table_runs)}, {steps_text(table_runs)} steps each): each claim's "
            "statistic, positive when the claim holds, with its 95% seed-bootstrap interval, P "
            "(the fraction of resamples in which it holds) and the verdict, by the rule stated in "
            f"[table.md]({link}table.md#claims-and-verdicts), which also has every claim in full.\n"
        )
        envs = order_envs(c.env for c in claims if c.section in ("returns", "trust region"))
        rows = []
        for section, kinds in (("returns", AGGREGATES), ("trust region", {"runs": None})):
            texts = list(
                dict.fromkeys(c.text for c in claims if c.section == section and not c.note)
            )
            for text in texts:
                for kind in kinds:
                    name = text.split(":")[0] + (
                        f", {AGGREGATES[kind].split(':')[0].lower()}" if kind != "runs" else ""
                    )
                    row = [name]
                    for env in envs:
                        claim = next((c for c in claims if c.text == text and c.env == env), None)
                        if claim is None:
                            row.append("—")
                            continue
                        paper = f" (paper: {claim.paper})" if claim.paper != "—" else ""
                        row.append(short_cell(claim.verdicts[kind], claim.unit) + paper)
                    rows.append(row)
        lines.append(markdown_table(["claim", *envs], rows))
        by_construction = [c for c in claims if c.note]
        if by_construction:
            notes = "; ".join(f"{c.env}: {c.note}" for c in by_construction)
            lines.append(
                f"- {by_construction[0].text}: {notes}. This is {BY_CONSTRUCTION}, not a finding: "
                "the logged mean KL is the one the line search checks before it accepts a step "
                "(the paper's was measured on held-out states)."
            )
        for claim in (c for c in claims if c.section == "comparisons"):
            cells = "; ".join(
                f"{AGGREGATES[kind].split(':')[0].lower()} {short_cell(v)}"
                for kind, v in claim.verdicts.items()
            )
            lines.append(
                f"- {claim.text} ({claim.env}, {claim.pairing}, {counts_text(claim)}): {cells}."
            )
        for kind in AGGREGATES:
            chosen = [c.verdicts[kind].word for c in claims if c.section == "paper"]
            if chosen:
                tally = ", ".join(
                    f"{word} {chosen.count(word)}"
                    for word in report_stats.VERDICTS
                    if word in chosen
                )
                lines.append(
                    f"- Our mean above the upper end of the paper's interval, "
                    f"{AGGREGATES[kind].split(':')[0].lower()}: of {len(chosen)} cells, {tally}."
                )
        lines.append("")
    if ablation:
        claims_by_env, grid, _ = ablation
        lines.append(
            "**The paper's Fig. 1**, PPO with each of the 16 on/off combinations of four "
            "optimizations: per switch, the mean over pairs of runs (same other switches, same "
            f"seed) of on minus off, [ablation.md]({link}ablation.md). {NO_LR_SWEEP}\n"
        )
        for env, (done, seeds, missing) in grid.items():
            lines.append(f"![{env}: ablation]({link}ablation_{env}.png)\n")
            complete_text = f"{done} of {16 * len(seeds)} runs"
            if missing:
                order = ", ".join(SWITCH_NAMES[s] for s in ABLATION_SWITCHES)
                complete_text += f"; missing, as {order} on/off: {missing_text(missing)}"
            lines.append(
                f"{env} ({complete_text}), best iteration; last {LAST_ITERATIONS} iterations:\n"
            )
            for switch in ABLATION_SWITCHES:
                verdicts = claims_by_env.get(env, {}).get(switch)
                if verdicts is None:
                    lines.append(
                        f"- {SWITCH_NAMES[switch]} (paper: {ABLATION_PAPER[switch]}): no pairs yet"
                    )
                    continue
                cells = "; ".join(short_cell(v) for v in verdicts.values())
                n = verdicts["best"].counts[0]
                lines.append(
                    f"- {SWITCH_NAMES[switch]} raises the return (paper: "
                    f"{ABLATION_PAPER[switch]}): {cells} ({pairs_text(n)}); "
                    f"{paper_reading(switch, verdicts['best'])}"
                )
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n" if lines else None


def n_text(verdict, pairing):
    """(n=3), (n=3 to 4), (3 pairs): the seeds behind a verdict, per group."""
    counts = verdict.counts
    if pairing == "paired by seed":
        return f"({pairs_text(counts[0])})"
    low, high = min(counts), max(counts)
    return f"(n={low})" if low == high else f"(n={low} to {high})"


def compact_cell(claim, kind):
    """**holds** +348 [35, 696] (n=4): a verdict with its statistic, interval and seeds."""
    verdict = claim.verdicts[kind]
    interval = interval_text(verdict.low, verdict.high, claim.unit)
    estimate = signed(verdict.estimate, claim.unit)
    return f"**{verdict.word}** {estimate} {interval} {n_text(verdict, claim.pairing)}"


def tally_text(words, of_what):
    """ "holds in 2, no evidence in 1 of 3 environments", in the rule's order of verdicts."""
    counts = ", ".join(
        f"{word} in {words.count(word)}" for word in report_stats.VERDICTS if word in words
    )
    return f"{counts} of {len(words)} {of_what}"


def scaling_text(verdicts):
    """ " (with reward scaling: **leans** +396 [-183, 1005], P=0.90; without: ...)": a switch's
    effect apart with reward scaling on and off, as far as there are pairs."""
    parts = [
        f"{name}: {short_cell(verdicts[scaled])}"
        for scaled, name in ((True, "with reward scaling"), (False, "without"))
        if scaled in verdicts
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def readme_summary(table_runs, claims, ablation, link):
    """The README's short results block: on the best iteration, the verdict counts, the claims
    that the optimizations matter and the trust-region claims one line each, the time limit, and
    the paper's numbers; everything else is in summary.md, which it links."""
    if not claims and not ablation:
        return None
    lines = []
    if claims:
        lines += [
            f"From the {len(table_runs)} finished runs in [`records/`]({link}records/) "
            f"({seeds_text(table_runs)}, {steps_text(table_runs)} steps each), returns on each "
            "run's best iteration, the trust region on each run's mean over its iterations: the "
            "claim's statistic, positive when it holds, [95% seed-bootstrap interval] (n seeds per "
            "variant), and its verdict by the rule in "
            f"[table.md]({link}table.md#claims-and-verdicts). Every claim, on both aggregates "
            f"and with P: [summary.md]({link}summary.md).",
            "",
        ]
        judged = [c for c in claims if c.section in ("returns", "trust region") and not c.note]
        words = [v.word for c in judged for v in c.verdicts.values()]
        if words:
            lines.append(
                "- The paper's claims on returns and on the trust region, per environment and "
                f"aggregate: {tally_text(words, 'verdicts')}."
            )
        for prefix in ("ACLI > AAI", "PPO > PPO-M", "TRPO+ > TRPO", "PPO's max ratio > 1 + eps"):
            chosen = [c for c in judged if c.text.startswith(prefix)]
            if chosen:
                name, _, why = chosen[0].text.partition(": ")
                kind = "runs" if chosen[0].section == "trust region" else "best"
                cells = "; ".join(f"{c.env} {compact_cell(c, kind)}" for c in chosen)
                lines.append(f"- {name} ({why}): {cells}.")
        by_construction = [c for c in claims if c.note]
        if by_construction:
            lines.append(
                f"- {by_construction[0].text}, {BY_CONSTRUCTION} (the line search checks that "
                "very KL): " + "; ".join(f"{c.env}: {c.note}" for c in by_construction) + "."
            )
        time_limit = [
            c for c in claims if c.section == "comparisons" and c.pairing == "paired by seed"
        ]
        if time_limit:
            cells = "; ".join(
                f"{c.text.split(':')[0]} on {c.env} {compact_cell(c, 'best')}" for c in time_limit
            )
            lines.append(
                "- Bootstrapping the time limit scores above taking it as a termination (paired "
                f"by seed): {cells}."
            )
        paper = [c.verdicts["best"].word for c in claims if c.section == "paper"]
        if paper:
            lines.append(
                "- Our mean above the upper end of the paper's interval: "
                f"{tally_text(paper, 'cells')}."
            )
    if ablation:  # the figure, and one line per switch with its effect in each environment
        claims_by_env, grid, split = ablation
        counts = "; ".join(
            f"{env}: {done} of {16 * len(seeds)} runs, seed{'s' * (len(seeds) > 1)} "
            + ", ".join(map(str, seeds))
            for env, (done, seeds, _) in grid.items()
        )
        lines.append(
            f"- The paper's Fig. 1, [ablation.md]({link}ablation.md) ({counts}): PPO's four "
            "switches, each one's effect on minus off over the pairs of runs that share the other "
            f"switches and the seed, best iteration. {NO_LR_SWEEP}"
        )
        for switch in ABLATION_SWITCHES:
            cells = "; ".join(
                f"{env} {short_cell(switches[switch]['best'])} "
                f"({pairs_text(switches[switch]['best'].counts[0])}), "
                f"{paper_reading(switch, switches[switch]['best'])}"
                + (scaling_text(split[env][switch]) if switch == "clip_vloss" else "")
                for env, switches in claims_by_env.items()
                if switch in switches
            )
            lines.append(
                f"  - {SWITCH_NAMES[switch]} raises the return (paper: "
                f"{ABLATION_PAPER[switch]}): {cells or 'no pairs yet'}."
            )
        figures = " ".join(f"![{env}: ablation]({link}ablation_{env}.png)" for env in grid)
        lines += ["", figures]
    return "\n".join(lines) + "\n"


# The headline's rule, stated once: the README prints it above the three findings.
HEADLINE_RULE = (
    "Returns on each run's best iteration (the paper's aggregate), the trust region on each run's "
    "mean over its iterations. Each line counts the verdicts over the environments (or table "
    "cells) and shows where the claim fares worst, the lowest P (the share of resamples in which "
    "it holds; ties: the lower end of the interval): statistic [95% seed-bootstrap interval] (n "
    "seeds per variant), P, verdict."
)
HEADLINE_CLAIMS = [  # (the finding, its statistic, the section and start of the claims' text)
    (
        "The optimizations matter more than the choice of PPO or TRPO",
        "ACLI - AAI",
        "returns",
        "ACLI > AAI",
    ),
    (
        "Clipping does not keep PPO's ratio within 1 + eps",
        "max ratio - (1 + eps)",
        "trust region",
        "PPO's max ratio",
    ),
    (
        "Our returns are above the paper's",
        "our mean - the upper end of the paper's interval",
        "paper",
        "",
    ),
]


def env_version(env_id):
    """Hopper-v4 -> 4; an id without a version sorts first."""
    found = re.search(r"-v(\d+)$", env_id)
    return int(found[1]) if found else -1


def headline_envs(claims):
    """The paper's environments, each at the oldest version among the claims (the closest to the
    paper's gym -v2), in the paper's column order."""
    envs = {c.env for c in claims if env_family(c.env) in PAPER_ENVS}
    oldest = {}
    for env in sorted(envs, key=env_version, reverse=True):
        oldest[env_family(env)] = env
    return order_envs(oldest.values())


def headline(table_runs, claims):
    """The README's three findings, chosen by HEADLINE_RULE from the computed verdicts."""
    envs = headline_envs(claims)
    if not envs:
        return None
    runs = [r for r in table_runs if r.env_id in envs]
    lines = [
        "Three fixed claims of the paper, on its environments, each at the oldest version run "
        f"({', '.join(envs)}: {len(runs)} finished runs, {seeds_text(runs)}, {steps_text(runs)} "
        f"steps each; the paper: about 40 agents per cell). {HEADLINE_RULE}",
        "",
    ]
    for finding, statistic, section, prefix in HEADLINE_CLAIMS:
        chosen = [
            c
            for c in claims
            if c.section == section and c.text.startswith(prefix) and c.env in envs and not c.note
        ]
        kind = "runs" if section == "trust region" else "best"
        judged = [c for c in chosen if c.verdicts[kind].word != "too few runs"] or chosen
        if not judged:
            lines.append(f"- **{finding}**: no runs yet.")
            continue
        worst = min(judged, key=lambda c: (c.verdicts[kind].p, c.verdicts[kind].low))
        where = worst.env
        if section == "paper":
            where += " " + worst.text.removesuffix(" above the paper's interval")
        verdict = worst.verdicts[kind]
        paper = f" (paper: {worst.paper})" if section == "returns" and worst.paper != "—" else ""
        of_what = "cells" if section == "paper" else "environments"
        lines.append(
            f"- **{finding}**: {tally_text([c.verdicts[kind].word for c in chosen], of_what)}; "
            f"worst, {where}: {statistic} = {signed(verdict.estimate, worst.unit)} "
            f"{interval_text(verdict.low, verdict.high, worst.unit)} "
            f"{n_text(verdict, worst.pairing)}, P={verdict.p:.2f}, **{verdict.word}**{paper}."
        )
    return "\n".join(lines) + "\n"


def write_summary(text, readme_blocks, out, readme):
    """summary.md in out, and each of readme_blocks ({name in README_BLOCKS: text}) between its
    marker lines in the README, if it has them; returns (files written, notes for the terminal)."""
    written = []
    staged(Path(out, "summary.md")).write_text(text)
    written.append(Path(out) / "summary.md")
    if readme is None:
        return written, []
    readme_text = Path(readme).read_text() if Path(readme).is_file() else ""
    notes = []
    for name, block in readme_blocks.items():
        first, last = README_BLOCKS[name]
        start, end = readme_text.find(first), readme_text.find(last)
        if start < 0 or end < start:
            notes.append(f"{readme} has no {name} marker lines: its {name} is not written")
            continue
        readme_text = readme_text[:start] + first + "\n" + block + readme_text[end:]
    if len(notes) < len(readme_blocks):
        staged(Path(readme)).write_text(readme_text)
        written.append(Path(readme))
    return written, notes


# ==================================================================================================
# Main
# ==================================================================================================
def main(args):
    """The report, its files renamed into place only once all are written (see staged)."""
    try:
        write_report(args)
        for temporary, final in STAGED:
            os.replace(temporary, final)
    finally:
        for temporary, _ in STAGED:
            temporary.unlink(missing_ok=True)
        STAGED.clear()


def write_report(args):
    sources = [folder for folder in (args.runs, args.records) if folder is not None]
    if not sources:
        sys.exit(
            "benchmark_report.py: give --runs (event files), --records (per-run records) or both"
        )
    for folder in sources:
        if not folder.is_dir():
            sys.exit(f"benchmark_report.py: there is no folder at {folder}")
    source = " and ".join(str(folder) for folder in sources)
    # skipped: the runs left out, and why, on the terminal and in table.md.
    terminal_notes, skipped = [], []
    runs = load_runs(args.runs, skipped) if args.runs is not None else []
    if args.records is not None:
        # A run's event files win over its record, which came from them or from an earlier attempt.
        from_events = {run.key for run in runs}
        runs += [r for r in load_records(args.records, skipped) if r.key not in from_events]
        runs.sort(key=lambda r: (r.env_id, r.exp_name, r.seed))
    for note in skipped:
        print(f"note: {note}", file=sys.stderr)
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {source}")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    # OUT/records always holds what this report was made from, so that OUT regenerates on its own.
    if args.runs is not None or args.records.resolve() != (args.out / "records").resolve():
        records = write_records(runs, args.out / "records", terminal_notes)
        written.append(f"{args.out / 'records'}/ ({len(records)} runs)")
    notes = run_notes(runs)
    for note in terminal_notes + notes:
        print(f"note: {note}", file=sys.stderr)
    notes = skipped + notes
    runs = [run for run in runs if len(run.iterations)]
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {source} has a finished episode yet")

    table_runs = [r for r in runs if ablation_switches(r.exp_name) is None]
    claims, finished = [], [r for r in table_runs if r.complete]
    if table_runs:
        paper = load_paper_table(args.paper_table)
        if not paper:
            print(
                f"benchmark_report.py: no paper table at {args.paper_table}; "
                "its columns stay empty",
                file=sys.stderr,
            )
        claims = all_claims(finished, paper)
        write_table_md(table_runs, paper, notes, args.out / "table.md", claims)
        written.append(args.out / "table.md")
        written += plot_learning_curves(table_runs, args.out)
        written += plot_trust_region(table_runs, args.out)
    ablation_runs = [r for r in runs if ablation_switches(r.exp_name) is not None]
    ablation = None
    if ablation_runs:
        ablation_written, ablation_claims_by_env, grid, split = write_ablation(
            ablation_runs, args.out
        )
        written += ablation_written
        ablation = (ablation_claims_by_env, grid, split)
    summary = results_summary(finished, claims, ablation, "")
    if summary is not None:
        readme = args.readme
        if readme is None and args.out.resolve() == (REPOSITORY / "benchmark_results").resolve():
            readme = REPOSITORY / "README.md"
        link = (
            ""
            if readme is None
            else Path(os.path.relpath(args.out, Path(readme).parent)).as_posix() + "/"
        )
        blocks = {
            "headline": headline(finished, claims),
            "results-summary": readme_summary(finished, claims, ablation, link),
        }
        summary_written, summary_notes = write_summary(
            summary, {k: v for k, v in blocks.items() if v is not None}, args.out, readme
        )
        written += summary_written
        for note in summary_notes:
            print(f"note: {note}", file=sys.stderr)
    print(f"report on {len(runs)} runs:")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":
    args = tyro.cli(Args)
    try:
        main(args)
    except KeyboardInterrupt:
        print(f"Ctrl-C: aborted; the report in {args.out} is as it was", file=sys.stderr)
        sys.exit(130)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            sys.exit(
                f"benchmark_report.py: {error.strerror}: {error.filename}; the report in "
                f"{args.out} is as it was"
            )
        sys.exit(
            f"benchmark_report.py: the disk of {args.out} is full; the report there is as it was"
        )
