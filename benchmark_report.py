"""The benchmark's report: runs in, the paper's Tables 1 and 2 and figures out.

Reads the runs that benchmark.sh started, either from their TensorBoard event files (--runs: one folder
per run, named `{env_id}__{exp_name}__{seed}__{unix_time}` by the variant scripts) or from the per-run
records that an earlier report wrote (--records), and writes into --out:

- records/{env_id}__{exp_name}__{seed}.csv: one small CSV per run with, per iteration, every number
  the report reads, so that the report regenerates from --out alone, without the event files;
- table.md: Table 1 (PPO, PPO-M, TRPO, TRPO+) and Table 2 (PPO-NoClip beside PPO) of Engstrom et al.
  2020 ("Implementation Matters in Deep Policy Gradients"), our mean and 95% bootstrap CI over seeds
  beside the paper's number, with the AAI and ACLI rows, once per aggregate (best iteration, last 10
  iterations); differences between environment versions and time-limit treatments; a trust-region
  summary per variant; one row per run;
- curves_{env}.png: learning curves, every variant in one plot;
- trust_region_{env}.png: mean KL and max ratio per iteration, per variant, as in the paper's trust-region plots;
- ablation.md and ablation_{env}.png for the runs of `benchmark.sh --ablation` (the paper's Fig. 1).

The return of an iteration is the mean return of the training episodes that finished in it, as in the
authors' released code; there are no separate evaluation episodes.

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
TABLE_1 = ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"]  # also the four that AAI and ACLI compare
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
SMOOTHING_WINDOW = 10  # iterations per rolling mean in the figures: its last point is the last-10 aggregate
CONFIDENCE = 0.95
N_RESAMPLES = 10_000  # bootstrap resamples for the tables
CURVE_RESAMPLES = 1_000  # a band under a curve needs fewer, and is computed once per iteration
BOOTSTRAP_SEED = 0  # fixed, so the same runs always give the same table

AGGREGATES = {
    "best": "Best iteration: per run, the highest per-iteration mean return",
    "last10": f"Last {LAST_ITERATIONS} iterations: per run, the mean of the last "
    f"{LAST_ITERATIONS} per-iteration mean returns",
}

# A run's record: per iteration, the mean return of the episodes that finished in it and their count,
# then the scalars the scripts log once per iteration (column name -> TensorBoard tag). The TRPO
# columns stay empty for PPO.
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
    """where table.md, the figures and records/ (the runs' records) go; no default: a report goes only where named"""
    runs: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """a folder of run folders with event files, as benchmark.sh writes them"""
    records: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """a folder of per-run records (CSV) that an earlier report wrote (its OUT/records): the report from them alone"""
    paper_table: Path = Path(__file__).resolve().parent / "reference" / "paper_tables.csv"
    """the paper's numbers as CSV (variant,env,mean,ci_low,ci_high); without it the paper's columns are empty"""


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
        """Iterations logged so far (the trust-region tags are logged at the end of every iteration)."""
        logged = len(self.logged("mean_kl")[1])
        return logged if logged else int(self.iterations[-1])

    @property
    def complete(self):
        return self.planned_iterations is None or self.done_iterations >= self.planned_iterations


def significant(values):
    """Rounded to SIGNIFICANT_DIGITS, as a record stores them, so that a run read from its event files
    and the same run read back from its record give the same numbers, and the same report."""
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
        return np.array([p.step for p in points], dtype=np.int64), np.array([p.value for p in points])

    episode_steps, episode_returns = scalars("charts/episodic_return")
    logged = {column: scalars(tag) for column, tag in LOGGED_PER_ITERATION.items()}
    # Every column is as long as the last iteration: a step outside the run's iterations (past the
    # planned ones or, without them, past one iteration per point, as the scripts log every iteration)
    # is not the run's, and would size the columns by itself.
    planned = int(hparams["num_iterations"]) if hparams.get("num_iterations", "").isdigit() else None
    every_step = np.concatenate([episode_steps, *(steps for steps, _ in logged.values())])
    limit = planned if planned is not None else len(every_step)
    if len(every_step) and (every_step.min() < 1 or iteration_of(every_step.max(), batch_size) > limit):
        bad = every_step.min() if every_step.min() < 1 else every_step.max()
        what = (
            f"its {limit} planned iterations" if planned is not None else f"{limit} iterations (one per point logged)"
        )
        raise ValueError(f"a point at step {bad} lies outside {what} of {batch_size} steps")
    with_episodes, means = iteration_means(episode_steps, episode_returns, batch_size)
    counts = np.unique(iteration_of(episode_steps, batch_size), return_counts=True)[1]
    # The per-iteration tags are logged at the iteration's last global step, k * batch_size.
    logged = {column: (iteration_of(steps, batch_size), values) for column, (steps, values) in logged.items()}
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
    """The run as CSV: comment lines with its source and constants (floats as Python writes them, which
    read back exactly), then one row per iteration."""
    constants = {
        "run": run.source,
        "batch_size": run.batch_size,
        "batch_size_assumed": int(run.batch_size_assumed),
        "planned_iterations": run.planned_iterations,
        "max_kl": run.max_kl,
        "clip_coef": run.clip_coef,
    }
    lines = [
        f"# Per-iteration record of the run {run.source}, extracted from its event files by benchmark_report.py.",
        "# " + " ".join(f"{key}={'' if value is None else value}" for key, value in constants.items()),
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
    ValueError says what does not hold: its run named and stored under that name (one record per run),
    its constants, its header, one row per iteration 1, 2, ... at global step iteration * batch_size,
    numbers, and an episode count wherever there is a return. So its columns are as long as its rows,
    and nothing in it can size anything beyond its own length."""
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
        raise ValueError(f"it holds the run {constants['run']}, whose record is {env_id}__{exp_name}__{seed}.csv")
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
        if row[:2] != [str(iteration), str(iteration * batch_size)] or len(row) != len(RECORD_COLUMNS):
            raise ValueError(
                f"its row {iteration} is not iteration {iteration} at global step {iteration * batch_size} with "
                f"{len(RECORD_COLUMNS)} fields, but `{','.join(row)[:60]}`"
            )
        for name, text in zip(RECORD_COLUMNS[2:], row[2:], strict=True):
            if text:
                columns[name][i] = float(text)  # a ValueError if it is no number
    returns, episodes = columns["mean_return"], columns["episodes"]
    counted = episodes[~np.isnan(episodes)]
    if np.any(np.isnan(returns) != np.isnan(episodes)) or np.any((counted % 1 != 0) | (counted < 1)):
        raise ValueError("a mean return without its number of episodes (a whole number, 1 or more), or the reverse")

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


# Each file of the report is written under a temporary name beside its own, and main renames them all
# over their own names only once every one is written: an interrupted or failed report (Ctrl-C, a full
# disk) leaves the previous report whole, and two reports at once each leave a whole one.
STAGED = []  # (temporary, final) paths of the report being written


def staged(path):
    """The temporary name to write instead of path, in the same folder so that the rename is atomic."""
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
    known = [v + suffix for suffix in ("", TLTERM_SUFFIX) for v in VARIANT_LABELS if v + suffix in names]
    return known + sorted(set(names) - set(known))


def plot_label(exp_name):
    base = base_variant(exp_name)
    if base in VARIANT_LABELS:
        tlterm = ", time limit as termination" if exp_name != base else ""
        return VARIANT_LABELS[base] + tlterm
    return exp_name.lstrip("_") or exp_name  # matplotlib leaves a label that starts with "_" out of the legend


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
    """The rows of Table 1 or 2: its variants in the paper's order, then their time-limit-as-termination
    runs; Table 1 also takes every name that is not one of the paper's (a user's own variant)."""
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
        suffixes = [""] + ([TLTERM_SUFFIX] if any(v.endswith(TLTERM_SUFFIX) for v in variants) else [])
        for suffix in suffixes:
            for position, index_name in enumerate(("AAI", "ACLI")):
                row = [index_name + (" (time limit as termination)" if suffix else "")]
                for env in envs:
                    family = env_family(env)
                    paper_means = {v: numbers[0] for (v, e), numbers in paper.items() if e == family}
                    row.append(text_or_dash(aai_acli(our_means[env], suffix)[position]))
                    row.append(text_or_dash(aai_acli(paper_means)[position]))
                rows.append(row)
    title = f"## {table}. {AGGREGATES[kind]}; mean [{CONFIDENCE:.0%} bootstrap CI] (n = seeds)"
    return title + "\n\n" + markdown_table(header, rows)


def text_or_dash(value):
    return number(value) if value is not None else "—"


def comparison_pairs(runs):
    """[(what, runs of a, runs of b)] for the differences a minus b worth a line: one environment in
    two versions (Walker2d-v5 minus Walker2d-v4) per variant, and per variant and environment the
    time limit taken as a termination minus the default bootstrap."""
    groups = defaultdict(list)
    for run in runs:
        groups[run.exp_name, run.env_id].append(run)
    names = order_variants({r.exp_name for r in runs})
    envs = order_envs(r.env_id for r in runs)
    pairs = []
    for variant in names:
        present = [env for env in envs if (variant, env) in groups]
        for old, new in combinations(present, 2):
            if env_family(old) == env_family(new):
                pairs.append((f"{label(variant)}: {new} minus {old}", groups[variant, new], groups[variant, old]))
    for variant in names:
        base = base_variant(variant)
        for env in envs:
            if variant != base and (variant, env) in groups and (base, env) in groups:
                what = f"{label(base)} on {env}: time limit as termination minus bootstrapped"
                pairs.append((what, groups[variant, env], groups[base, env]))
    return pairs


def comparisons_section(runs):
    pairs = comparison_pairs(runs)
    if not pairs:
        return None
    rows = []
    for what, a, b in pairs:
        row = [what]
        for kind in AGGREGATES:
            scores = [[aggregate(r.iteration_returns, kind) for r in group] for group in (a, b)]
            row.append(f"{cell(*bootstrap_diff_ci(*scores))} (n={len(a)} and {len(b)})")
        rows.append(row)
    header = ["a minus b", "best iteration", f"last {LAST_ITERATIONS} iterations"]
    return (
        f"## Comparisons: difference of the means [{CONFIDENCE:.0%} bootstrap CI, the two groups resampled apart]\n\n"
        + markdown_table(header, rows)
    )


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
        fixed(kl_outside, ".1%") + ("" if np.isnan(kl_outside) else bound_text("delta", {r.max_kl for r in runs})),
    ]


def trust_region_section(runs):
    header = ["environment", "variant", "seeds", "mean KL", "max ratio, mean", "max ratio, largest"]
    header += ["iterations with max ratio > 1 + eps", "iterations with mean KL > delta"]
    rows = []
    for env in order_envs(r.env_id for r in runs):
        for variant in order_variants({r.exp_name for r in runs if r.env_id == env}):
            rows.append(trust_region_row(env, variant, [r for r in runs if r.env_id == env and r.exp_name == variant]))
    return (
        "## Trust region, per variant\n\n"
        "Mean over seeds of each run's mean over its iterations; the largest max ratio is over all "
        "iterations of all seeds. Each variant is held to its own bound: PPO's variants to 1 + eps "
        "(the clip epsilon), TRPO's to delta (max KL).\n\n" + markdown_table(header, rows)
    )


def per_run_table(runs):
    header = ["environment", "variant", "seed", "iterations", "batch size", "best iteration", "last 10"]
    header += ["largest max ratio", "mean of mean KL", "line search gave up", "largest KL of a step taken (bound)"]
    rows = []
    envs = order_envs(r.env_id for r in runs)
    for run in sorted(runs, key=lambda r: (envs.index(r.env_id), r.exp_name, r.seed)):
        tr = trust_region_summary(run)
        trpo = ["—", "—"]
        if "gave_up" in tr:
            bound = f" ({run.max_kl:g})" if run.max_kl is not None else ""
            trpo = [f"{tr['gave_up']} of {tr['line_searches']}", f"{tr['max_kl_accepted']:.4f}{bound}"]
        iterations = f"{run.done_iterations}{'' if run.complete else f' of {run.planned_iterations}'}"
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
    """What a reader of table.md should know about single runs; the same from event files and records."""
    notes = []
    for run in runs:
        notes += [f"`{run.source}`: {note}" for note in run.notes]
        if run.batch_size_assumed:
            notes.append(f"`{run.source}`: no batch size in its hyperparameters, assumed {DEFAULT_BATCH_SIZE}")
        if len(run.iterations) == 0:
            notes.append(f"`{run.source}` has no finished episodes; left out")
    return notes


def write_table_md(runs, paper, notes, path):
    parts = [
        "# Results in the layout of the paper's Tables 1 and 2\n",
        "The return of an iteration is the mean undiscounted return of the training episodes "
        "that finished in it, as in the authors' released code. CI: "
        f"percentile bootstrap over seeds, {N_RESAMPLES} resamples, RNG seed {BOOTSTRAP_SEED}; "
        "with a handful of seeds it shows how far apart they are, and is too narrow as a CI.\n",
        "AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|), from "
        "the means; shown only where all four variants ran.\n",
    ]
    if paper:
        parts.append(
            "Paper: Engstrom et al. 2020, Tables 1 and 2 (gym -v2 environments, about 40 agents per "
            "cell). It does not say which aggregate it reports; the authors' analysis code takes each "
            "agent's best iteration, so compare it with the best-iteration tables first. The released "
            "code treats the time limit as a termination, so the paper's number also stands beside our "
            "time-limit-as-termination rows. Its AAI and ACLI here come from its rounded means (for "
            "Hopper's ACLI the paper prints 421, the rounded means give 423).\n"
        )
    else:
        parts.append("The paper's numbers were not found, so their columns are empty.\n")
    complete = [run for run in runs if run.complete]
    for run in runs:
        if not run.complete:
            notes.append(
                f"`{run.source}` has {run.done_iterations} of {run.planned_iterations} iterations "
                "(still running, or stopped): in the per-run table and the plots, not in the tables above"
            )
    if not complete:
        parts.append("No run has finished yet.\n")
    for table in ("Table 1", "Table 2"):
        for kind in AGGREGATES:
            parts.append(results_table(complete, kind, paper, table))
    if complete:
        parts += [comparisons_section(complete), trust_region_section(complete)]
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
    """Faint: the mean over seeds of each iteration. Solid: the mean over seeds of each seed's rolling
    mean, with its bootstrap band; one iteration's mean of two or three episodes is too noisy to read."""
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
        Line2D([], [], color="gray", alpha=0.3, linewidth=6, label=f"band: {CONFIDENCE:.0%} bootstrap CI over seeds"),
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
            plot_series(ax, steps, matrix, f"{plot_label(variant)} (n={len(group)})", colours[variant])
        ax.set(
            title=f"{env}: learning curves, mean over seeds",
            ylabel=f"mean return of the iteration's episodes\n(rolling mean over {SMOOTHING_WINDOW} iterations)",
        )
        steps_axis(ax)
        handles = ax.get_legend_handles_labels()[0] + how_to_read()
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small")
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
                plot_series(ax, steps, matrix, f"{plot_label(variant)} (n={len(group)})", colours[variant])
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
                1 + clip_coef, color="gray", linestyle="--", linewidth=1, label=f"1 + eps = {1 + clip_coef:g}"
            )
        ax_kl.set(
            title=f"{env}: trust region, mean over seeds",
            ylabel=f"mean KL(old || new)\n(rolling mean over {SMOOTHING_WINDOW} iterations)",
        )
        ax_ratio.set(
            ylabel=f"max ratio pi_new / pi_old\n(rolling mean over {SMOOTHING_WINDOW} iterations)", yscale="log"
        )
        # Plain numbers (2, 3, 10) rather than 2 x 10^0 on the log axis, some minor ticks labelled
        # where the axis spans up to two decades.
        ax_ratio.yaxis.set_major_formatter(LogFormatter())
        ax_ratio.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))
        for ax in (ax_kl, ax_ratio):
            steps_axis(ax)
            handles = ax.get_legend_handles_labels()[0] + (how_to_read() if ax is ax_kl else [])
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small")
        ax_kl.set_xlabel("")
        written.append(Path(out) / f"trust_region_{env}.png")
        fig.savefig(staged(written[-1]), dpi=120, format="png")
    return written


# ==================================================================================================
# The ablation (benchmark.sh --ablation)
# ==================================================================================================
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
    values = defaultdict(list)  # (combination, env) -> best iteration per seed
    for run in runs:
        combination = tuple(ablation_switches(run.exp_name).values())
        values[combination, run.env_id].append(aggregate(run.iteration_returns, "best"))
    rows = []
    for combination in sorted({c for c, _ in values}, reverse=True):
        row = ["on" if on else "off" for on in combination]
        for env in envs:
            seeds = values.get((combination, env))
            row.append(cell(*bootstrap_ci(seeds)) if seeds else "—")
        rows.append(row)
    return f"## {AGGREGATES['best']}, per combination\n\n" + markdown_table(header, rows)


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
        rows = []
        for switch in ABLATION_SWITCHES:
            row = [f"`--{switch.replace('_', '-')}`"]
            for env in envs:
                on, off = scores[env][switch][True], scores[env][switch][False]
                if on and off:
                    effect = cell(*bootstrap_diff_ci(on, off))
                    row.append(f"{effect} ({len(on)} on, {len(off)} off)")
                else:
                    row.append("—")
            rows.append(row)
        parts.append(f"## {AGGREGATES[kind]}: on minus off\n\n" + markdown_table(["switch", *envs], rows))
    parts.append(combinations_table(runs, envs))
    staged(Path(out, "ablation.md")).write_text("\n".join(parts) + "\n")
    written = [Path(out) / "ablation.md"]

    # As in Fig. 1: per switch, the fraction of runs that reached at least a given return (1 - CDF),
    # once with the switch on and once off.
    scores = ablation_scores(runs, "best")
    for env in envs:
        fig = Figure(figsize=(12, 3.5), layout="constrained")
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
        written.append(Path(out) / f"ablation_{env}.png")
        fig.savefig(staged(written[-1]), dpi=120, format="png")
    return written


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
    if (args.runs is None) == (args.records is None):
        sys.exit("benchmark_report.py: give one of --runs (event files) and --records (per-run records)")
    source = args.runs if args.runs is not None else args.records
    if not source.is_dir():
        sys.exit(f"benchmark_report.py: there is no folder at {source}")
    terminal_notes, skipped = [], []  # skipped: runs left out, and why, on the terminal and in table.md
    runs = load_runs(source, skipped) if args.runs is not None else load_records(source, skipped)
    for note in skipped:
        print(f"note: {note}", file=sys.stderr)
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {source}")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    # OUT/records always holds what this report was made from, so that OUT regenerates on its own.
    if args.records is None or args.records.resolve() != (args.out / "records").resolve():
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
    if table_runs:
        paper = load_paper_table(args.paper_table)
        if not paper:
            print(f"benchmark_report.py: no paper table at {args.paper_table}; its columns stay empty", file=sys.stderr)
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
    args = tyro.cli(Args)
    try:
        main(args)
    except KeyboardInterrupt:
        print(f"Ctrl-C: aborted; the report in {args.out} is as it was", file=sys.stderr)
        sys.exit(130)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            sys.exit(f"benchmark_report.py: {error.strerror}: {error.filename}; the report in {args.out} is as it was")
        sys.exit(f"benchmark_report.py: the disk of {args.out} is full; the report there is as it was")
