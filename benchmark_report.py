"""The benchmark's report: runs in; the paper's Tables 1 and 2, its claims marked, figures out.

Reads the runs benchmark.sh started from their TensorBoard event files (--runs: one folder per run,
`{env_id}__{exp_name}__{seed}__{unix_time}`), from the records an earlier report wrote (--records),
or both (a run's event files win over its record); and the records of the authors' released code
(--released DIR; by default benchmark_results/released/records when --out is benchmark_results,
else none). Writes into --out, each file under a temporary name renamed into place once all are
written, so that an interrupted report leaves the previous one whole:

- records/{env_id}__{exp_name}__{seed}.csv: per iteration, every number the report reads;
- table.md: Tables 1 and 2 on both aggregates (ours, ours with the time limit as a termination, the
  released code, the paper), the paper's claims and their marks, the comparisons the paper did not
  make, the trust region, every run; claims.csv: every claim's statistic, p-values and mark;
- curves_{env}.png, trust_region_{env}.png; ablation.md and ablation_{env}.png (the paper's Fig. 1);
- the README's reproduction block between its marker lines (--readme; ours for benchmark_results).

Libraries: pandas holds one row per run and builds every table (groupby, pivot_table, to_markdown
through tabulate); scipy.stats does every test and interval (report_stats.py); matplotlib draws.

    python benchmark_report.py --runs benchmark_runs/runs --out benchmark_runs
    python benchmark_report.py --records benchmark_results/records --out benchmark_results
"""

import csv
import errno
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import tyro
from matplotlib.figure import Figure  # saves through the Agg canvas: no pyplot, no global state

import report_stats as stats

REPOSITORY = Path(__file__).resolve().parent
VARIANT_LABELS = {"ppo_continuous": "PPO", "ppo_m": "PPO-M", "trpo": "TRPO", "trpo_plus": "TRPO+"}
VARIANT_LABELS |= {"ppo_noclip": "PPO-NoClip", "ppo_noclip_only": "PPO-NoClip, PPO's config"}
TABLE_1 = ["ppo_continuous", "ppo_m", "trpo", "trpo_plus"]
OURS, TLTERM, RELEASED = "ours", "ours, time limit as termination", "released code"
PAPER_ENVS = ["Hopper", "Walker2d", "Humanoid"]
README_ENVS = ["Hopper-v4", "Walker2d-v4", "Humanoid-v4"]  # gym -v2's models, on gymnasium
ABLATION_SWITCHES = ["clip_vloss", "scale_reward", "ortho_init", "anneal_lr"]
NO_GAIN_MARGIN = 0.05  # value clipping brings "no gain": its effect below 5% of the return without
KL_MARGIN = 2.0  # PPO-NoClip's trust region "about as PPO's": a ratio within [1/2, 2]
DEFAULT_BATCH_SIZE = 2048
AGGREGATES = {"best": "best iteration", "last10": "last 10 iterations"}
TAGS = ["trust_region/mean_kl", "trust_region/max_ratio", "trpo/line_search_steps", "trpo/accepted"]
TAGS += ["trpo/expected_improvement", "trpo/actual_improvement", "trpo/kl_after_step"]
RECORD_COLUMNS = ["iteration", "global_step", "mean_return", "episodes"]
RECORD_COLUMNS += [tag.split("/")[1] for tag in TAGS]
REPRO_START = "<!-- reproduction: written by benchmark_report.py, do not edit -->"
REPRO_END = "<!-- end of reproduction -->"
RECORDS = "per-run records"


@dataclass
class Args:
    out: Path
    """where table.md, claims.csv, the figures and records/ go; no default: only where named"""
    runs: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """a folder of run folders with event files, as benchmark.sh writes them"""
    records: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """an earlier report's OUT/records (one CSV per run); with --runs, the runs without events"""
    readme: Annotated[Path | None, tyro.conf.arg(metavar="FILE")] = None
    """a README to write the reproduction block into (default: ours, for benchmark_results)"""
    paper_table: Path = REPOSITORY / "reference" / "paper_tables.csv"
    """the paper's numbers, CSV (variant,env,mean,ci_low,ci_high); without it, no paper columns"""
    released: Annotated[Path | None, tyro.conf.arg(metavar="DIR")] = None
    """the released code's records (default: benchmark_results/released/records when --out is
    benchmark_results, else none)"""


def iteration_of(steps, batch_size):
    """Iteration k covers global steps (k-1)*batch_size + 1 .. k*batch_size."""
    return -(-np.asarray(steps, dtype=np.int64) // batch_size)


def iteration_means(steps, returns, batch_size):
    """(iterations with a finished episode, the mean return of the episodes that ended in each)."""
    frame = pd.DataFrame({"it": iteration_of(steps, batch_size), "r": np.asarray(returns, float)})
    means = frame.groupby("it")["r"].mean()
    return means.index.to_numpy(), means.to_numpy()


def aggregate(means, kind):
    """One number per run from its per-iteration means: kind "best" or "last10"."""
    if len(means) == 0:
        return np.nan
    return float(np.max(means) if kind == "best" else np.mean(means[-10:]))


def aai_acli(m):
    """AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|) from
    {variant: mean}; (None, None) unless all four are there."""
    if any(v not in m for v in TABLE_1):
        return None, None
    ppo, ppo_m, trpo, plus = (m[v] for v in TABLE_1)
    return max(abs(ppo - plus), abs(ppo_m - trpo)), max(abs(ppo - ppo_m), abs(plus - trpo))


def parse_run_name(name):
    """`{env_id}__{exp_name}__{seed}__{unix_time}` -> those four (seed and time as int), or None."""
    parts = name.split("__")
    if len(parts) < 4 or not parts[-2].isdigit() or not parts[-1].isdigit():
        return None
    return parts[0], "__".join(parts[1:-2]), int(parts[-2]), int(parts[-1])


def parse_hparams(text):
    """{key: value text} from the scripts' markdown hyperparameter table (`|key|value|` rows)."""
    return dict(re.findall(r"^\|\s*(\w+)\s*\|\s*([^|]*?)\s*\|$", text, flags=re.MULTILINE))


def parse_batch_size(text):
    values = parse_hparams(text)
    if values.get("batch_size", "").isdigit() and int(values["batch_size"]) > 0:
        return int(values["batch_size"])
    if values.get("num_steps", "").isdigit() and values.get("num_envs", "").isdigit():
        return int(values["num_steps"]) * int(values["num_envs"])
    return None


def env_family(env_id):
    return re.sub(r"-v\d+$", "", env_id)


def ablation_switches(exp_name):
    """{switch: on} from an ablation run's name, or None if it is not one of benchmark.sh's."""
    found = dict(re.findall(r"(" + "|".join(ABLATION_SWITCHES) + r")([01])", exp_name))
    if not exp_name.startswith("ablation_") or sorted(found) != sorted(ABLATION_SWITCHES):
        return None
    return {switch: found[switch] == "1" for switch in ABLATION_SWITCHES}


@dataclass
class Run:
    env_id: str
    exp_name: str
    seed: int
    source: str  # the run folder's name, `{env_id}__{exp_name}__{seed}__{unix_time}`
    batch_size: int
    batch_size_assumed: bool
    planned_iterations: int | None
    max_kl: float | None
    clip_coef: float | None
    columns: dict  # record column -> one float per iteration 1..N, NaN where nothing was logged
    notes: list = field(default_factory=list)
    header: str = ""  # a record's own first line, if it is not the one write_record writes

    @property
    def key(self):
        return f"{self.env_id}__{self.exp_name}__{self.seed}"

    @property
    def iteration_returns(self):
        returns = self.columns["mean_return"]
        return returns[~np.isnan(returns)]

    @property
    def done_iterations(self):
        return len(self.columns["mean_return"])

    @property
    def complete(self):
        return self.planned_iterations is None or self.done_iterations >= self.planned_iterations


def significant(values):
    """Rounded as a record stores them (6 digits): events and records give the same report."""
    return np.array([float(f"{x:.6g}") for x in values])


def run_from_events(path, env_id, exp_name, seed):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    hparams, batch_size = {}, None
    if "hyperparameters/text_summary" in tags["tensors"]:
        text = events.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0]
        text = text.decode("utf-8", errors="replace")
        hparams, batch_size = parse_hparams(text), parse_batch_size(text)
    assumed, batch_size = batch_size is None, batch_size or DEFAULT_BATCH_SIZE

    def scalars(tag):
        points = events.Scalars(tag) if tag in tags["scalars"] else []
        return np.array([p.step for p in points], dtype=np.int64), np.array(
            [p.value for p in points]
        )

    episode_steps, episode_returns = scalars("charts/episodic_return")
    logged = {tag.split("/")[1]: scalars(tag) for tag in TAGS}
    planned = hparams.get("num_iterations", "")
    planned = int(planned) if planned.isdigit() else None
    # A step outside the run's iterations is not the run's, and would size the columns by itself.
    steps = np.concatenate([episode_steps, *(s for s, _ in logged.values())])
    limit = planned if planned is not None else len(steps)
    if len(steps) and (steps.min() < 1 or iteration_of(steps.max(), batch_size) > limit):
        bad = steps.min() if steps.min() < 1 else steps.max()
        what = f"its {limit} planned" if planned else f"{limit} iterations (one per point logged)"
        what += " iterations" if planned else ""
        raise ValueError(f"a point at step {bad} lies outside {what} of {batch_size} steps")
    with_episodes, means = iteration_means(episode_steps, episode_returns, batch_size)
    counts = np.unique(iteration_of(episode_steps, batch_size), return_counts=True)[1]
    logged = {c: (iteration_of(s, batch_size), v) for c, (s, v) in logged.items()}
    last = max([0, *with_episodes, *(i for its, _ in logged.values() for i in its)])
    columns = {name: np.full(last, np.nan) for name in RECORD_COLUMNS[2:]}
    columns["mean_return"][with_episodes - 1] = significant(means)
    columns["episodes"][with_episodes - 1] = counts
    for column, (iterations, values) in logged.items():
        columns[column][iterations - 1] = significant(values)
    number = {
        k: float(hparams[k])
        for k in ("max_kl", "clip_coef")
        if re.fullmatch(r"[0-9.eE+-]+", hparams.get(k, ""))
    }
    name, limits = Path(path).name, (number.get("max_kl"), number.get("clip_coef"))
    return Run(env_id, exp_name, seed, name, batch_size, assumed, planned, *limits, columns)


def load_runs(runs_dir, skipped):
    """Every run under runs_dir from its event files; of several folders of a run, the newest."""
    folders = {}
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir()):
        parsed = parse_run_name(path.name)
        if parsed is None or not any(path.glob("events.out.tfevents.*")):
            skipped.append(f"skipped `{path.name}`: not a run folder named env__name__seed__time")
            continue
        folders.setdefault(parsed[:3], []).append((parsed[3], path))
    runs = []
    for key, candidates in sorted(folders.items()):
        try:
            run = run_from_events(max(candidates)[1], *key)
        except ValueError as error:
            skipped.append(f"skipped `{max(candidates)[1].name}`: {error}")
            continue
        if len(candidates) > 1:
            run.notes.append(f"{len(candidates)} run folders, used the newest")
        runs.append(run)
    return runs


def write_record(run, path):
    """The run as CSV: comment lines with its source and constants, then one row per iteration."""
    constants = {"run": run.source, "batch_size": run.batch_size}
    constants |= {"batch_size_assumed": int(run.batch_size_assumed)}
    constants |= {"planned_iterations": run.planned_iterations, "max_kl": run.max_kl}
    constants |= {"clip_coef": run.clip_coef}
    lines = [
        run.header
        or f"# Per-iteration record of the run {run.source}, extracted from its event files by "
        "benchmark_report.py.",
        "# " + " ".join(f"{k}={'' if v is None else v}" for k, v in constants.items()),
        *(f"# note: {note}" for note in run.notes),
        ",".join(RECORD_COLUMNS),
    ]
    for i in range(run.done_iterations):
        row = [str(i + 1), str((i + 1) * run.batch_size)]
        values = (run.columns[name][i] for name in RECORD_COLUMNS[2:])
        lines.append(",".join(row + ["" if np.isnan(x) else f"{x:.6g}" for x in values]))
    staged(path).write_text("\n".join(lines) + "\n")


def read_record(path):
    """A Run from its record, the inverse of write_record, checked as a whole: a ValueError says
    what does not hold (its run named and stored under that name, its constants, its header, one
    row per iteration 1, 2, ... at step iteration * batch_size, numbers, episodes with a return)."""
    constants, notes, rows, header = {}, [], [], ""
    with Path(path).open() as f:
        for line in f:
            if line.startswith("# note: "):
                notes.append(line[len("# note: ") :].rstrip("\n"))
            elif line.startswith("# run="):
                constants = dict(item.split("=", 1) for item in line[2:].split() if "=" in item)
            elif line.startswith("#"):
                header = header or line.rstrip("\n")
            elif line.strip():
                rows.append(line)
    if parse_run_name(constants.get("run", "")) is None:
        raise ValueError("no `# run=...` line naming its run")
    env_id, exp_name, seed, _ = parse_run_name(constants["run"])
    if Path(path).stem != f"{env_id}__{exp_name}__{seed}":
        stem = f"{env_id}__{exp_name}__{seed}"
        raise ValueError(f"it holds the run {constants['run']}, whose record is {stem}.csv")
    for key, valid in ("batch_size", "[1-9][0-9]*"), ("batch_size_assumed", "[01]"):
        if not re.fullmatch(valid, constants.get(key, "")):
            raise ValueError(f"{key}={constants.get(key, '')!r} in its `# run=` line")
    if not re.fullmatch("[0-9]*", constants.get("planned_iterations", "")):
        raise ValueError(f"planned_iterations={constants['planned_iterations']!r} in its `# run=`")
    batch_size, table = int(constants["batch_size"]), list(csv.reader(rows))
    if not table or table[0] != RECORD_COLUMNS:
        raise ValueError(f"its header is not {','.join(RECORD_COLUMNS)}")
    columns = {name: np.full(len(table) - 1, np.nan) for name in RECORD_COLUMNS[2:]}
    for i, row in enumerate(table[1:]):
        k = i + 1
        if row[:2] != [str(k), str(k * batch_size)] or len(row) != len(RECORD_COLUMNS):
            raise ValueError(
                f"its row {k} is not iteration {k} at global step {k * batch_size} with "
                f"{len(RECORD_COLUMNS)} fields, but `{','.join(row)[:60]}`"
            )
        for name, text in zip(RECORD_COLUMNS[2:], row[2:], strict=True):
            columns[name][i] = float(text) if text else np.nan  # a ValueError if it is no number
    returns, episodes = columns["mean_return"], columns["episodes"]
    counted = episodes[~np.isnan(episodes)]
    if np.any(np.isnan(returns) != np.isnan(episodes)) or np.any(
        (counted % 1 != 0) | (counted < 1)
    ):
        raise ValueError("a mean return without its number of episodes (a whole number, 1 or more)")
    number = {k: float(constants[k]) for k in ("max_kl", "clip_coef") if constants.get(k)}
    planned = int(constants["planned_iterations"]) if constants["planned_iterations"] else None
    ours = f"# Per-iteration record of the run {constants['run']}, extracted from its event files"
    first = (env_id, exp_name, seed, constants["run"], batch_size)
    last = (planned, number.get("max_kl"), number.get("clip_coef"), columns, notes)
    assumed = constants["batch_size_assumed"] == "1"
    return Run(*first, assumed, *last, "" if header.startswith(ours) else header)


def load_records(records_dir, skipped, what="the record"):
    runs = []
    for path in sorted(Path(records_dir).glob("*.csv")):
        try:
            runs.append(read_record(path))
        except ValueError as error:  # a UnicodeDecodeError too
            skipped.append(f"skipped {what} `{path.name}`: {error}")
    return sorted(runs, key=lambda r: (r.env_id, r.exp_name, r.seed))


STAGED = []  # (temporary, final) paths of the report being written; main renames them at the end


def staged(path):
    path = Path(path)
    STAGED.append((path.with_name(f".{path.name}.{os.getpid()}.tmp"), path))
    return STAGED[-1][0]


def load_paper_table(path):
    """The paper's numbers indexed by (variant, env family); empty if the file is absent."""
    if not Path(path).is_file():
        empty = pd.MultiIndex.from_tuples([], names=["variant", "env"])
        return pd.DataFrame(columns=["mean", "ci_low", "ci_high"], index=empty, dtype=float)
    paper = pd.read_csv(path, comment="#").replace({"variant": {"ppo": "ppo_continuous"}})
    return paper.set_index(["variant", "env"])[["mean", "ci_low", "ci_high"]].astype(float)


def run_frame(runs, origin):
    rows = []
    for run in runs:
        kl, ratio, accepted = (
            pd.Series(run.columns[c]) for c in ("mean_kl", "max_ratio", "accepted")
        )
        variant = run.exp_name.removesuffix("_tlterm")
        eps, delta = run.clip_coef or np.nan, run.max_kl or np.nan
        setting = RELEASED if origin == RELEASED else TLTERM if variant != run.exp_name else OURS
        returns = run.iteration_returns
        row = [run.env_id, variant, setting, run.seed, run.source, run.complete]
        row += [run.done_iterations, run.planned_iterations, run.batch_size]
        row += [aggregate(returns, "best"), aggregate(returns, "last10"), kl.mean()]
        eps = np.nan if variant.startswith("ppo_noclip") else eps  # its surrogate is not clipped
        over = [
            (ratio > 1 + eps).mean() if eps > 0 else np.nan,
            (kl > delta).mean() if delta > 0 else np.nan,
        ]
        row += [ratio.mean(), ratio.max(), eps, delta, *over]
        row += [(accepted == 0).sum() if accepted.notna().any() else np.nan]
        rows.append(row + list((ablation_switches(run.exp_name) or {}).values()))
    names = "env variant setting seed source complete done planned batch best last10 kl ratio "
    names += "ratio_max eps delta over_eps over_delta gave_up"
    extra = ABLATION_SWITCHES if runs and ablation_switches(runs[0].exp_name) else []
    return pd.DataFrame(rows, columns=names.split() + extra).astype({"planned": "Int64"})


def order_envs(envs):
    rank = {f: i for i, f in enumerate(PAPER_ENVS)}
    return sorted(set(envs), key=lambda e: (rank.get(env_family(e), len(rank)), e))


def sort_frame(frame):
    """Environments and variants in the paper's order, then settings and seeds."""
    envs, variants = order_envs(frame.env), list(VARIANT_LABELS) + sorted(set(frame.variant))
    settings = [OURS, TLTERM, RELEASED]
    key = [
        (envs.index(e), variants.index(v), settings.index(s), seed)
        for e, v, s, seed in frame[["env", "variant", "setting", "seed"]].to_numpy()
    ]
    return frame.iloc[sorted(range(len(frame)), key=key.__getitem__)].reset_index(drop=True)


def label(variant):
    return VARIANT_LABELS.get(variant, f"`{variant}`")


def number(x, digits=0):
    if x is None or pd.isna(x):
        return "—"
    text = f"{x:.{digits}f}"
    return text[1:] if float(text) == 0 and text.startswith("-") else text


def short(x):
    return "—" if pd.isna(x) else f"{x:.4g}"


def interval(estimate, low, high, digits=0):
    sign = (
        "+" if pd.notna(estimate) and float(number(estimate, digits).replace("—", "0")) > 0 else ""
    )
    return f"{sign}{number(estimate, digits)} [{number(low, digits)}, {number(high, digits)}]"


def t_cell(values):
    """mean [95% t interval] (n) of one group's values."""
    values = pd.Series(values, dtype=float).dropna()
    if len(values) < 2:
        return f"{number(values.mean())} (n=1)" if len(values) else "—"
    low, high = stats.t_interval(values)
    return f"{number(values.mean())} [{number(low)}, {number(high)}] (n={len(values)})"


def markdown(frame):
    return frame.to_markdown(index=False, disable_numparse=True) + "\n"


# (key, the claim in the paper's direction, where the paper makes it). The paper's own wording is
# not quoted: only its tables' numbers (reference/paper_tables.csv) could be checked.
CLAIMS = [
    ("acli", "ACLI > AAI", "Table 1"),
    ("ppo_ppom", "PPO > PPO-M", "Table 1"),
    ("trpop_trpo", "TRPO+ > TRPO", "Table 1"),
    ("ppo_ratio", "PPO's max ratio beyond 1 + eps", "trust-region plots"),
    ("ppom_kl", "PPO-M's mean KL above PPO's", "trust-region plots"),
    ("ppom_ratio", "PPO-M's max ratio above PPO's", "trust-region plots"),
    ("noclip_kl", "PPO-NoClip's mean KL as PPO's, within 2x", "trust-region plots"),
    ("noclip_ratio", "PPO-NoClip's max ratio - 1 as PPO's, within 2x", "trust-region plots"),
    ("noclip_only_kl", "the same, NoClip on PPO's config: mean KL", "trust-region plots"),
    ("noclip_only_ratio", "the same, NoClip on PPO's config: max ratio - 1", "trust-region plots"),
    ("scale_reward", "reward scaling raises the return", "Fig. 1"),
    ("anneal_lr", "learning-rate annealing raises the return", "Fig. 1"),
    ("ortho_init", "orthogonal init raises the return", "Fig. 1"),
    ("clip_vloss", "value clipping: no gain (below +5%)", "Fig. 1"),
]
CLAIM_TEXT = {key: (text, where) for key, text, where in CLAIMS}
RATIO_CLAIMS = ["ppom_kl", "ppom_ratio", "noclip_kl", "noclip_ratio"]
RATIO_CLAIMS += ["noclip_only_kl", "noclip_only_ratio"]  # tested on logs, shown as ratios


def group(frame, env, variant, column, setting=OURS):
    rows = frame[(frame.env == env) & (frame.variant == variant) & (frame.setting == setting)]
    return rows[rows.complete].sort_values("seed")[column].dropna().to_numpy(dtype=float)


def paper_claims(frame, paper):
    """Every claim of the paper on every environment run: one row each (and per aggregate)."""
    rows = []
    for env in order_envs(frame.env):
        family = env_family(env)
        theirs = {v: paper.loc[(v, family), "mean"] for v in TABLE_1 if (v, family) in paper.index}
        aai, acli = aai_acli(theirs)

        def add(key, result, kind="—", paper_value=np.nan, env=env):
            rows.append([env, key, *CLAIM_TEXT[key], kind, *result.row(), paper_value])

        for kind in AGGREGATES:
            ours = {v: group(frame, env, v, kind) for v in TABLE_1}
            add("acli", stats.acli_minus_aai(*ours.values()), kind, acli - aai if aai else np.nan)
            for key, (a, b) in ("ppo_ppom", TABLE_1[:2]), ("trpop_trpo", TABLE_1[:1:-1]):
                gap = theirs[a] - theirs[b] if aai else np.nan
                add(key, stats.greater(ours[a], ours[b]), kind, gap)
        eps = frame[(frame.env == env) & (frame.variant == "ppo_continuous")].eps.max()
        add("ppo_ratio", stats.above(group(frame, env, "ppo_continuous", "ratio"), 1 + eps))
        log_kl = {v: np.log(group(frame, env, v, "kl")) for v in VARIANT_LABELS}
        log_ratio = {v: np.log(group(frame, env, v, "ratio") - 1) for v in VARIANT_LABELS}
        add("ppom_kl", stats.greater(log_kl["ppo_m"], log_kl["ppo_continuous"]))
        add("ppom_ratio", stats.greater(log_ratio["ppo_m"], log_ratio["ppo_continuous"]))
        for variant, prefix in ("ppo_noclip", "noclip"), ("ppo_noclip_only", "noclip_only"):
            if variant == "ppo_noclip" or len(log_kl[variant]):
                for name, values in ("kl", log_kl), ("ratio", log_ratio):
                    result = stats.equivalent(
                        values[variant], values["ppo_continuous"], np.log(KL_MARGIN)
                    )
                    add(f"{prefix}_{name}", result)
    names = "env claim text where aggregate estimate ci_low ci_high n test p p_against mark paper"
    claims = pd.DataFrame(rows, columns=names.split())
    ratios = claims.claim.isin(RATIO_CLAIMS)
    claims.loc[ratios, ["estimate", "ci_low", "ci_high"]] = np.exp(
        claims.loc[ratios, ["estimate", "ci_low", "ci_high"]].astype(float)
    )
    return claims


def comparisons(frame):
    """What the paper did not compare: the time limit, -v5 against -v4, ours against the released
    code; each two-sided. Not counted among the paper's claims."""
    rows = []
    for env in order_envs(frame.env):
        for variant in VARIANT_LABELS:
            at = {
                s: frame[(frame.env == env) & (frame.variant == variant) & (frame.setting == s)]
                for s in (OURS, TLTERM, RELEASED)
            }
            at = {s: runs[runs.complete] for s, runs in at.items()}
            other = frame[(frame.env == env.replace("-v4", "-v5")) & (frame.variant == variant)]
            other = other[other.complete & (other.setting == OURS) & (other.env != env)]
            pairs = [(f"{OURS} minus {TLTERM} (paired by seed)", at[OURS], at[TLTERM], True)]
            pairs += [(f"{s} minus the {RELEASED}", at[s], at[RELEASED], False) for s in at]
            pairs += [(f"{env.replace('-v4', '-v5')} minus {env}", other, at[OURS], False)]
            for what, a, b, paired in pairs:
                if len(a) == 0 or len(b) == 0 or a is b:
                    continue
                for kind in AGGREGATES:
                    if paired:
                        both = pd.merge(a[["seed", kind]], b[["seed", kind]], on="seed")
                        result = stats.paired_greater(both[f"{kind}_x"], both[f"{kind}_y"])
                    else:
                        result = stats.greater(a[kind].dropna(), b[kind].dropna())
                    p = f"{number(result.p, 4)}, {number(result.p_against, 4)}"
                    row = [env, label(variant), what, AGGREGATES[kind]]
                    row += [interval(*result.row()[:3]), result.n, p]
                    rows.append(row + [stats.two_sided_word(result)])
    names = ["environment", "variant", "comparison", "aggregate", "difference [95% CI]", "n"]
    return pd.DataFrame(rows, columns=names + ["p (above, below)", "the first is"])


SWITCH_NAMES = {"clip_vloss": "value clipping", "scale_reward": "reward scaling"}
SWITCH_NAMES |= {"ortho_init": "orthogonal init", "anneal_lr": "learning-rate annealing"}


def ablation_pairs(runs, switch, kind):
    """(on, off) over the pairs of runs that share every other switch and the seed."""
    others = [s for s in ABLATION_SWITCHES if s != switch]
    pairs = runs.pivot_table(index=["seed", *others], columns=switch, values=kind).dropna()
    return tuple(pairs[c].to_numpy() if c in pairs else np.array([]) for c in (True, False))


def ablation_effects(frame):
    """Per environment, switch, aggregate and subset: the switch's effect, on minus off over its
    pairs, in all pairs and split by the levels of reward scaling and value clipping."""
    rows = []
    for env in order_envs(frame.env):
        runs = frame[(frame.env == env) & frame.complete]
        for switch in ABLATION_SWITCHES:
            by = [s for s in ("scale_reward", "clip_vloss") if s != switch]
            subsets = [("all pairs", runs)]
            for levels, subset in runs.groupby(by):
                on = [
                    f"{SWITCH_NAMES[s]} {'on' if x else 'off'}"
                    for s, x in zip(by, levels, strict=True)
                ]
                subsets.append((", ".join(on), subset))
            for name, subset in subsets:
                for kind in AGGREGATES:
                    on, off = ablation_pairs(subset, switch, kind)
                    margin = (
                        NO_GAIN_MARGIN * off.mean() if switch == "clip_vloss" and len(off) else None
                    )
                    r = stats.paired_greater(on, off, margin if len(off) else None)
                    rows.append([env, switch, name, kind, *r.row()])
    names = "env switch subset aggregate estimate ci_low ci_high n test p p_against mark"
    return pd.DataFrame(rows, columns=names.split())


def write_ablation(frame, effects, out):
    parts = [
        "# The paper's Fig. 1: PPO's four switches\n",
        "Each switch's effect is the return with it on minus off, over the pairs of runs that "
        "share "
        "the other three switches and the seed, on each aggregate; then split by the switches it "
        "interacts with (reward scaling, value clipping). Every combination runs with the released "
        "PPO learning rates of its environment, where the paper took the best of several per "
        "combination. The paper's reading of its Fig. 1 (wording unverified): reward scaling, "
        "learning-rate annealing and orthogonal init raise the return; value clipping brings no "
        "gain, tested as the one-sided claim that its effect stays below "
        f"+{NO_GAIN_MARGIN:.0%} of the mean return without it (a paired t-test against that "
        "margin).\n",
        stats.METHOD + "\n",
    ]
    grid = frame.groupby("env").agg(runs=("complete", "sum"), seeds=("seed", "unique"))
    grid = grid.reindex(order_envs(frame.env)).reset_index()
    grid["of"] = grid.seeds.map(lambda s: f"{16 * len(s)} (16 x seeds {', '.join(map(str, s))})")
    parts.append("## The grid\n\n" + markdown(grid[["env", "runs", "of"]]))
    for env in order_envs(frame.env):
        table = effects[effects.env == env].assign(claim=lambda t: t.switch.map(CLAIM_TEXT).str[0])
        table["effect [95% CI]"] = [
            interval(*r) for r in table[["estimate", "ci_low", "ci_high"]].values
        ]
        table["p"], table["aggregate"] = (
            table.p.map(lambda p: number(p, 4)),
            table["aggregate"].map(AGGREGATES),
        )
        table = table.pivot_table(
            index=["claim", "subset", "n"],
            columns="aggregate",
            values=["effect [95% CI]", "p", "mark"],
            aggfunc="first",
            sort=False,
        )
        table.columns = [f"{c} ({k})" for c, k in table.columns]
        parts.append(
            f"## {env}: effect of turning each switch on\n\n" + markdown(table.reset_index())
        )
    staged(out / "ablation.md").write_text("\n".join(parts))
    return [out / "ablation.md"]


RELEASED_PROTOCOL = (
    "The released code resets the environment at the start of every iteration and counts only the "
    "episodes begun and ended inside it (the cut last one dropped): its per-iteration return is "
    "measured differently from ours."
)
RETURN_PROTOCOL = (
    "**The return of an iteration** is the mean undiscounted return of the training episodes that "
    "ended in it: here episodes run on across iterations, so an iteration's mean also counts "
    f"episodes begun under the previous policy. {RELEASED_PROTOCOL} Neither runs separate "
    "evaluation episodes."
)


def returns_table(frame, paper):
    """Rows (environment, variant, runs); columns: the paper's number and both aggregates."""
    rows = []
    for (env, variant, setting), runs in frame.groupby(["env", "variant", "setting"], sort=False):
        key = (variant, env_family(env))
        theirs = paper.loc[key] if key in paper.index and setting == OURS else None
        cells = [t_cell(runs[kind]) for kind in AGGREGATES]
        if theirs is not None:
            theirs = f"{number(theirs['mean'])} [{number(theirs.ci_low)}, {number(theirs.ci_high)}]"
        rows.append([env, label(variant), setting, theirs or "", *cells])
        if variant == "trpo_plus" and setting == OURS:
            here = frame[(frame.env == env) & (frame.setting == OURS)]
            means = here.groupby("variant")[list(AGGREGATES)].mean()
            ours = [aai_acli(means[kind].to_dict()) for kind in AGGREGATES]
            f = env_family(env)
            theirs = aai_acli(
                {v: paper.loc[(v, f), "mean"] for v in TABLE_1 if (v, f) in paper.index}
            )
            for i, name in enumerate(("AAI", "ACLI")):
                rows.append([env, name, OURS, number(theirs[i]), *(number(o[i]) for o in ours)])
    columns = ["environment", "variant", "runs", "paper"]
    return pd.DataFrame(rows, columns=columns + list(AGGREGATES.values()))


def trust_region_table(frame):
    table = frame[frame.kl.notna()].groupby(["env", "variant", "setting"], sort=False)
    means = table[["kl", "ratio", "over_eps", "over_delta"]].mean().map(short)
    bounds = table[["eps", "delta"]].max().map(short)
    table = table.agg(n=("seed", "size"), largest=("ratio_max", "max"))
    table = pd.concat([table, means, bounds], axis=1).reset_index()
    table["largest"] = table.largest.map(short)
    table["variant"] = table.variant.map(label)
    names = "environment,variant,runs,n,largest max ratio,mean KL,max ratio"
    names += ",share of iterations above 1 + eps,share with mean KL above delta,eps,delta"
    return table.set_axis(names.split(","), axis=1)


def claims_markdown(claims):
    table = claims[["env", "text", "where"]].copy()
    table["aggregate"] = claims["aggregate"].map(AGGREGATES).fillna("per run: over iterations")
    digits = [0 if key in ("acli", "ppo_ppom", "trpop_trpo") else 2 for key in claims.claim]
    estimates = claims[["estimate", "ci_low", "ci_high"]].values
    table["ours [95% CI]"] = [interval(*e, d) for e, d in zip(estimates, digits, strict=True)]
    table["paper"] = [interval(p, None, None).split(" [")[0] for p in claims.paper]
    table[["n", "test"]] = claims[["n", "test"]]
    table[["p", "p, other way"]] = claims[["p", "p_against"]].map(lambda p: number(p, 4))
    table["mark"] = "**" + claims.mark + "**"
    return markdown(table.rename(columns={"text": "claim (in the paper's direction)"}))


CLAIMS_LEAD = (
    "Each claim of the paper, in its direction, where it makes it; the paper's text could not be "
    "checked, so its wording is not quoted (its tables' numbers are: `reference/paper_tables.csv`),"
    " "
    "and the figure numbers of its trust-region plots are unverified. The trust region: per run, "
    "the "
    "mean over its iterations of the mean KL, and of the max ratio - 1; compared as ratios of "
    "geometric means over runs (tested on their logarithms). PPO-NoClip's trust region 'about as "
    "PPO's' is an equivalence with the margin [1/2, 2] on that ratio. `claims.csv` holds every row."
)


def write_table_md(frame, claims, paper, notes, out):
    parts = ["# Results in the layout of the paper's Tables 1 and 2\n", RETURN_PROTOCOL + "\n"]
    parts.append(
        "Paper: Engstrom et al. 2020, Tables 1 and 2 (gym -v2, about 40 agents per cell); it does "
        "not say which aggregate of a run it reports. Ours: mean [95% t interval] (n seeds). "
        "AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|), from "
        "the means.\n"
        if len(paper)
        else "The paper's numbers were not found, so their column is empty.\n"
    )
    for run in frame[~frame.complete].itertuples():
        what = f"{run.done} of {run.planned} iterations (still running, or stopped)"
        notes.append(f"`{run.source}` has {what}: in the per-run table, not in the others")
    done = frame[frame.complete]
    if len(done):
        parts.append("## Tables 1 and 2\n\n" + markdown(returns_table(done, paper)))
        parts.append(f"## Claims and marks\n\n{CLAIMS_LEAD}\n\n{stats.METHOD}\n")
        parts.append(claims_markdown(claims))
        if len(compared := comparisons(done)):
            parts.append(
                "## Comparisons that the paper did not make\n\nShown, not counted among its claims;"
                " "
                "each two-sided at alpha = 0.05 (the one-sided p-values, each against 0.025). "
                f"{RELEASED_PROTOCOL}\n\n{markdown(compared)}"
            )
        parts.append(
            "## Trust region\n\nPer run, the mean over its iterations of the mean KL(old || new) "
            "and of the max ratio pi_new / pi_old after each update, on the training batch; then "
            "the mean over runs. The released code's records have none.\n\n"
            + markdown(trust_region_table(done))
        )
    else:
        parts.append("No run has finished yet.\n")
    per_run = frame[["env", "source", "done", "best", "last10", "kl", "ratio", "gave_up"]].copy()
    per_run["done"] = [
        f"{d}" + ("" if c else f" of {p}")
        for d, c, p in frame[["done", "complete", "planned"]].values
    ]
    per_run[["best", "last10", "gave_up"]] = per_run[["best", "last10", "gave_up"]].map(number)
    per_run[["kl", "ratio"]] = per_run[["kl", "ratio"]].map(short)
    names = (
        "environment,run,iterations,best iteration,last 10,mean KL,max ratio,line search gave up"
    )
    per_run = per_run.set_axis(names.split(","), axis=1)
    parts.append("## Per run\n\n" + markdown(per_run))
    if notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    staged(out / "table.md").write_text("\n".join(parts))
    claims.to_csv(staged(out / "claims.csv"), index=False, float_format="%.6g")
    return [out / "table.md", out / "claims.csv"]


COLOURS = {OURS: "tab:blue", TLTERM: "tab:orange", RELEASED: "tab:green"}


def per_iteration(runs_by_source, runs, column, window, how):
    """(iterations x runs) of one record column, smoothed over window iterations; its steps."""
    matrix = pd.DataFrame({s: pd.Series(runs_by_source[s].columns[column]) for s in runs.source})
    matrix = (matrix - 1 if column == "max_ratio" else matrix).rolling(window, min_periods=1)
    matrix = matrix.mean() if how == "mean" else matrix.median()
    return matrix, (matrix.index + 1) * runs.batch.iloc[0] / 1e6


def panels(count, rows=1):
    columns = -(-count // rows)
    figure = Figure(figsize=(3.4 * columns, 2.8 * rows), layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False)


def save(figure, path, title):
    figure.suptitle(title, fontsize=9)
    figure.savefig(staged(path), dpi=80, format="png")
    return [path]


def plot_curves(frame, runs_by_source, paper, out):
    """A panel per variant: each seed thin, their mean bold, per setting; the paper's dashed."""
    written = []
    for env in order_envs(frame.env):
        here = frame[frame.env == env]
        variants = [v for v in VARIANT_LABELS if v in set(here.variant)]
        variants += sorted(set(here.variant) - set(VARIANT_LABELS))
        figure, axes = panels(len(variants), 1 + (len(variants) > 3))
        for ax, variant in zip(axes.flat, variants, strict=False):
            for setting, runs in here[here.variant == variant].groupby("setting", sort=False):
                matrix, steps = per_iteration(runs_by_source, runs, "mean_return", 10, "mean")
                ax.plot(steps, matrix.to_numpy(), color=COLOURS[setting], alpha=0.3, lw=0.6)
                label_ = f"{setting} (n={len(runs)})"
                ax.plot(steps, matrix.mean(axis=1), color=COLOURS[setting], lw=1.8, label=label_)
            if (variant, env_family(env)) in paper.index:
                level = paper.loc[(variant, env_family(env)), "mean"]
                ax.axhline(level, color="black", linestyle="--", lw=1, label="paper (gym -v2)")
            ax.set(title=label(variant), xlabel="steps (millions)", ylabel="return")
            ax.legend(fontsize=6, loc="lower right")
        for ax in axes.flat[len(variants) :]:
            ax.set_visible(False)
        title = f"{env}: return per iteration, rolling mean of 10 (thin: seeds; bold: their mean)"
        written += save(figure, out / f"curves_{env}.png", title)
    return written


def plot_trust_region(frame, runs_by_source, out):
    """Mean KL and max ratio - 1 per variant, each panel on its own log scale, as rolling medians
    of 10 iterations: no variant's spike flattens another's panel."""
    written = []
    for env in order_envs(frame.env):
        here = frame[(frame.env == env) & frame.kl.notna()]
        groups = list(here.groupby(["variant", "setting"], sort=False))
        figure, axes = panels(2 * len(groups), 2)
        for column, ((variant, setting), runs) in enumerate(groups):
            for row, (name, bound) in enumerate((("mean_kl", "delta"), ("max_ratio", "eps"))):
                ax = axes[row, column]
                matrix, steps = per_iteration(runs_by_source, runs, name, 10, "median")
                ax.plot(
                    steps, matrix.clip(lower=1e-6).to_numpy(), color="tab:blue", alpha=0.3, lw=0.6
                )
                ax.plot(steps, matrix.median(axis=1).clip(lower=1e-6), color="tab:blue", lw=1.6)
                if runs[bound].max() < 1e6:  # PPO-NoClip's released eps is 1e32
                    ax.axhline(runs[bound].max(), color="black", ls="--", lw=1, label=bound)
                    ax.legend(fontsize=6)
                title = label(variant) + ("" if setting == OURS else f", {setting}")
                ylabel = "mean KL" if row == 0 else "max ratio - 1"
                ax.set(yscale="log", xlabel="steps (millions)", ylabel=ylabel)
                ax.set_title(f"{title} (n={len(runs)})", fontsize=8)
        title = f"{env}: rolling median of 10 iterations (thin: seeds; bold: their median)"
        written += save(figure, out / f"trust_region_{env}.png", title)
    return written


def plot_ablation(frame, effects, out):
    """Per switch, each pair of runs off and on, coloured by reward scaling x value clipping."""
    written, colours = [], {(1, 1): "tab:blue", (1, 0): "tab:green", (0, 1): "tab:red"}
    for env in order_envs(frame.env):
        runs = frame[(frame.env == env) & frame.complete]
        figure, axes = panels(4)
        for ax, switch in zip(axes.flat, ABLATION_SWITCHES, strict=True):
            others = [x for x in ABLATION_SWITCHES if x != switch]
            pairs = runs.pivot_table(index=["seed", *others], columns=switch, values="best")
            pairs = pairs.reindex(columns=[False, True])
            for levels, row in pairs.dropna().iterrows():
                state = dict(zip(others, levels[1:], strict=True))
                shown = [x for x in ("scale_reward", "clip_vloss") if x in state]
                key = tuple(int(state.get(x, 1)) for x in ("scale_reward", "clip_vloss"))
                name = ", ".join(f"{SWITCH_NAMES[x]} {'on' if state[x] else 'off'}" for x in shown)
                seen = name in ax.get_legend_handles_labels()[1]
                ax.plot(
                    [0, 1],
                    row.to_numpy(),
                    color=colours.get(key, "tab:gray"),
                    marker="o",
                    ms=3,
                    lw=0.8,
                    alpha=0.7,
                    label=None if seen else name,
                )
            mine = effects[(effects.env == env) & (effects.switch == switch)]
            mark = " / ".join(mine[mine.subset == "all pairs"].mark)
            ax.set(
                xticks=[0, 1], xticklabels=["off", "on"], xlim=(-0.3, 1.3), ylabel="best iteration"
            )
            ax.set_title(f"{SWITCH_NAMES[switch]}: {mark}\n(best / last 10)", fontsize=8)
            ax.legend(fontsize=6)
        title = f"{env}: each pair of runs with the switch off and on, the rest and the seed shared"
        written += save(figure, out / f"ablation_{env}.png", title)
    return written


MARKS_DEFINED = (
    "**agrees**: our runs show the paper's claim at alpha = 0.05, one-sided in its direction (a "
    "claim of no difference: inside its stated margin); **disagrees**: they show the opposite at "
    "the "
    "same level; **not resolved**: neither, or too few runs."
)


def readme_block(frame, claims, effects, paper, link):
    done = frame[frame.complete & frame.env.isin(README_ENVS) & frame.variant.isin(VARIANT_LABELS)]
    envs = [e for e in README_ENVS if e in set(done.env)]
    if not envs:
        return None
    ours = done[done.setting == OURS]
    n = ours.groupby("env").variant.value_counts().groupby("env").max()
    rows = []
    for setting in [OURS] + [RELEASED] * (RELEASED in set(done.setting)):
        for variant in VARIANT_LABELS:
            cells = []
            for env in envs:
                runs = done[
                    (done.env == env) & (done.variant == variant) & (done.setting == setting)
                ]
                key = (variant, env_family(env))
                theirs = number(paper.loc[key, "mean"]) if key in paper.index else "—"
                theirs = theirs if setting == OURS else "—"
                size = f" (n={len(runs)})" if len(runs) != n[env] else ""
                cells.append(
                    f"{theirs} / {number(runs.last10.mean())} / {number(runs.best.mean())}{size}"
                )
            if (
                setting == OURS
                and variant != "ppo_noclip_only"
                or any(" / — / —" not in c for c in cells)
            ):
                rows.append([label(variant) + ("" if setting == OURS else f", {setting}"), *cells])
    rows.append(["*The paper's claims (where it makes them)*", *([""] * len(envs))])
    effects = effects[effects.subset == "all pairs"].rename(columns={"switch": "claim"})
    for key, text, where in CLAIMS:
        mine = pd.concat([claims, effects])
        mine = mine[mine.claim == key]
        if len(mine):
            cells = [" / ".join(mine[mine.env == env].mark) or "—" for env in envs]
            both = " (best / last 10)" if mine["aggregate"].iloc[0] in AGGREGATES else ""
            rows.append([f"{text}, {where}{both}", *cells])
    header = [""] + [f"{env} (n={n.get(env, 0)})" for env in envs]
    table = pd.DataFrame(rows, columns=header).to_markdown(index=False, disable_numparse=True)
    levels = []
    for kind, name in AGGREGATES.items():
        means = ours.groupby(["variant", "env"])[kind].mean()
        ratio = (means.rename(lambda e: env_family(e), level="env") / paper["mean"]).dropna()
        if len(ratio):
            mean = np.exp(np.log(ratio).mean())
            levels.append(
                f"on the {name} {ratio.min():.2f}-{ratio.max():.2f}x (geometric mean {mean:.2f})"
            )
    tables = f"[table.md]({link}table.md#claims-and-marks), [claims.csv]({link}claims.csv)"
    lines = [
        "**Does it reproduce the paper?** Its Tables 1 and 2, rerun for 1M steps with the released "
        f"configurations on gymnasium's -v4 tasks (gym -v2's models), {len(ours)} finished runs. "
        "Each cell: the paper's mean (about 40 agents) / ours on the last 10 iterations / ours on "
        "the best iteration, means over seeds (n in the header); then a mark per claim.",
        f"\n{table}\n",
        f"{MARKS_DEFINED} The tests, intervals and p-values: {tables}; the ablation split by its "
        f"interactions: [ablation.md]({link}ablation.md).\n",
        f"**Levels.** Ours / the paper's mean return over {len(ratio)} cells: {'; '.join(levels)}.",
        "**What the paper leaves unsaid:** which aggregate of a run its tables report (best or "
        "final iterations), so both are shown; its authors' analysis code takes each agent's best.",
    ]
    compared = comparisons(done)
    compared = compared[compared.comparison.str.endswith(RELEASED)]
    for what, rows in compared.groupby("comparison", sort=False):
        counts = rows["the first is"].value_counts()
        counts = ", ".join(f"{word} in {counts[word]}" for word in counts.index)
        what = what.replace(" minus the", " against the")
        runs = f"{len(done[done.setting == RELEASED])} runs of the released code"
        protocol = RELEASED_PROTOCOL[0].lower() + RELEASED_PROTOCOL[1:-1]
        where = f"[table.md]({link}table.md#comparisons-that-the-paper-did-not-make)"
        lines.append(f"**{what[0].upper() + what[1:]}** ({runs}; {protocol}): "
                     f"ours {counts} of {len(rows)} comparisons (variant x aggregate, two-sided; "
                     f"{where}).")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_readme(block, readme):
    text = Path(readme).read_text() if Path(readme).is_file() else ""
    start, end = text.find(REPRO_START), text.find(REPRO_END)
    if start < 0 or end < start:
        print(f"note: {readme} has no reproduction marker lines: not written", file=sys.stderr)
        return []
    staged(readme).write_text(text[:start] + REPRO_START + "\n" + block + text[end:])
    return [Path(readme)]


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


def warn(*lines):
    print("".join(f"note: {line}\n" for line in lines), end="", file=sys.stderr)


def write_report(args):
    sources = [folder for folder in (args.runs, args.records) if folder is not None]
    for folder in sources + [args.released] * (args.released is not None):
        if not folder.is_dir():
            sys.exit(f"benchmark_report.py: there is no folder at {folder}")
    if not sources:
        sys.exit(f"benchmark_report.py: give --runs (event files), --records ({RECORDS}) or both")
    source, skipped = " and ".join(str(folder) for folder in sources), []
    ours = args.out.resolve() == (REPOSITORY / "benchmark_results").resolve()
    released = args.released or (
        REPOSITORY / "benchmark_results/released/records" if ours else None
    )
    runs = load_runs(args.runs, skipped) if args.runs is not None else []
    if args.records is not None:  # a run's event files win over its record
        keys = {run.key for run in runs}
        runs += [r for r in load_records(args.records, skipped) if r.key not in keys]
        runs.sort(key=lambda r: (r.env_id, r.exp_name, r.seed))
    what = "the released code's record"
    released = load_records(released, skipped, what) if released and released.is_dir() else []
    if not runs:
        warn(*skipped)
        sys.exit(f"benchmark_report.py: no run in {source}")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    if args.runs is not None or args.records.resolve() != (args.out / "records").resolve():
        (args.out / "records").mkdir(exist_ok=True)
        for run in runs:
            write_record(run, args.out / "records" / f"{run.key}.csv")
        stale = set((args.out / "records").glob("*.csv")) - {s for _, s in STAGED}
        warn(*(f"{p} is not one of these runs (left from an earlier report?)" for p in stale))
        written.append(f"{args.out / 'records'}/ ({len(runs)} runs)")
    notes = skipped + [f"`{r.source}`: {note}" for r in runs for note in r.notes]
    for r in runs:
        if r.batch_size_assumed:
            notes.append(f"`{r.source}`: no batch size in its hyperparameters, assumed 2048")
        if not len(r.iteration_returns):
            notes.append(f"`{r.source}` has no finished episodes; left out")
    warn(*notes)
    runs, released = ([r for r in rs if len(r.iteration_returns)] for rs in (runs, released))
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {source} has a finished episode yet")
    by_source = {r.source: r for r in runs + released}
    paper = load_paper_table(args.paper_table)
    if len(paper) == 0:
        print(
            f"benchmark_report.py: no paper table at {args.paper_table}; its columns stay empty",
            file=sys.stderr,
        )
    ablation = [r for r in runs if ablation_switches(r.exp_name)]
    table = [r for r in runs if not ablation_switches(r.exp_name)]
    frame = [run_frame(rs, s) for rs, s in ((table, OURS), (released, RELEASED)) if rs]
    frame = sort_frame(pd.concat(frame)) if table else None
    claims = pd.DataFrame(columns=["env", "claim", "mark", "aggregate"])
    effects = pd.DataFrame(columns=["env", "switch", "subset", "mark", "aggregate"])
    if table:
        claims = paper_claims(frame[frame.complete], paper) if frame.complete.any() else claims
        written += write_table_md(frame, claims, paper, notes, args.out)
        written += plot_curves(frame, by_source, paper, args.out)
        written += plot_trust_region(frame, by_source, args.out)
    if ablation:
        ablation = sort_frame(run_frame(ablation, OURS))
        effects = ablation_effects(ablation)
        written += write_ablation(ablation, effects, args.out)
        written += plot_ablation(ablation, effects, args.out)
    readme = args.readme or (REPOSITORY / "README.md" if ours else None)
    if readme is not None and table:
        link = Path(os.path.relpath(args.out, Path(readme).parent)).as_posix() + "/"
        block = readme_block(frame, claims, effects, paper, link)
        written += write_readme(block, readme) if block is not None else []
    print(f"report on {len(runs) + len(released)} runs:")
    print("".join(f"  {path}\n" for path in written), end="")


if __name__ == "__main__":
    args = tyro.cli(Args)
    try:
        main(args)
    except KeyboardInterrupt:
        sys.exit(
            print(f"Ctrl-C: aborted; the report in {args.out} is as it was", file=sys.stderr) or 130
        )
    except OSError as error:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        what = f"the disk of {args.out} is full" if full else f"{error.strerror}: {error.filename}"
        where = "there" if full else f"in {args.out}"
        sys.exit(f"benchmark_report.py: {what}; the report {where} is as it was")
