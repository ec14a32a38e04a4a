"""The benchmark's report: runs in; the paper's Tables 1 and 2, its claims marked, figures out.

Reads runs from event files (--runs: benchmark.sh's `{env}__{name}__{seed}__{time}` folders), an
earlier report's records (--records) or both (event files win), and the released code's records
(--released). Writes into --out, each file renamed into place once all are written: records/,
table.md and claims.csv (Tables 1 and 2, each claim's test and mark, the comparisons the paper did
not make, the trust region, every run), ablation.md (Fig. 1), the figures and the README's block.
pandas holds one row per run and builds every table (groupby, pivot_table, to_markdown); scipy.stats
does every test and interval (report_stats.py); matplotlib draws the figures.

    python benchmark_report.py --records benchmark_results/records --out benchmark_results
"""

import csv
import errno
import io
import itertools
import os
import re
import sys
from dataclasses import dataclass
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
ROW_SUFFIX = {OURS: "", TLTERM: ", time limit as termination", RELEASED: ", released code"}
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
VALID_CONSTANTS = {"batch_size": "[1-9][0-9]*", "batch_size_assumed": "[01]"}
VALID_CONSTANTS |= {"planned_iterations": "[0-9]*"}  # in a record's `# run=` line
STAGED = []  # (temporary, final) paths of the report being written; main renames them at the end
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
    ("anneal_lr", "learning-rate annealing raises the return", "Fig. 1"),
    ("ortho_init", "orthogonal init raises the return", "Fig. 1"),
    ("scale_reward", "reward scaling raises the return", "Fig. 1"),
    ("scale_reward_unclipped", "the same, with value clipping off", "Fig. 1"),
    ("clip_vloss", "value clipping: no gain (effect < 5% of the return without it)", "Fig. 1"),
    ("clip_vloss_scaled", "the same, with reward scaling on (as released)", "Fig. 1"),
]
CLAIM_TEXT = {key: (text, where) for key, text, where in CLAIMS}
RATIO_CLAIMS = [key for key, *_ in CLAIMS[4:10]]  # tested on logs, shown as ratios
# Each switch's effect in all pairs; the two that interact also where the other does not undo them.
SPLITS = {"all pairs": "", "value clipping off": "_unclipped", "reward scaling on": "_scaled"}
RESULT_COLUMNS = "estimate ci_low ci_high n test p p_against mark".split()  # a Result's row()
SWITCH_NAMES = {"clip_vloss": "value clipping", "scale_reward": "reward scaling"}
SWITCH_NAMES |= {"ortho_init": "orthogonal init", "anneal_lr": "learning-rate annealing"}
INTERACTING = ["scale_reward", "clip_vloss"]  # value clipping's bound is in raw reward units
RELEASED_PROTOCOL = (
    "The released code resets the environment every iteration and counts only the episodes begun "
    "and ended in it: its per-iteration return is measured differently."
)
RETURN_PROTOCOL = (
    "**The return of an iteration** is the mean undiscounted return of the training episodes that "
    "ended in it; ours run on across iterations, so it also counts episodes begun under the "
    f"previous policy. {RELEASED_PROTOCOL} Neither runs separate evaluation episodes."
)
CLAIMS_LEAD = (
    "Each claim of the paper in its direction. Its text could not be checked: no wording is quoted "
    "(its tables' numbers: `reference/paper_tables.csv`), and the figure numbers of its "
    "trust-region plots are unverified. Trust region: per run, the mean over iterations of the "
    "mean KL and of the max ratio - 1, compared as ratios of geometric means over runs (tested on "
    "logarithms); 'about as PPO's' is an equivalence, margin [1/2, 2]. The ablation's claims: in "
    "all pairs of runs, then split by reward scaling x value clipping, which interact "
    "(ablation.md). `claims.csv` holds every row."
)
TRUST_PANELS = [("mean_kl", "delta", "mean KL"), ("max_ratio", "eps", "max ratio - 1")]
COLOURS = {OURS: "tab:blue", TLTERM: "tab:orange", RELEASED: "tab:green"}
MARKS_DEFINED = (
    "**agrees**: our runs show the paper's claim at alpha = 0.05, one-sided in its direction (a "
    "claim of no difference: inside its stated margin); **disagrees**: they show the opposite at "
    "the same level; **not resolved**: neither, or too few runs."
)


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
    """the released code's records (default: its records in benchmark_results, for that --out)"""


def iteration_of(steps, batch_size):
    """Iteration k covers global steps (k-1)*batch_size + 1 .. k*batch_size."""
    return -(-np.asarray(steps, dtype=np.int64) // batch_size)


def aggregate(means, kind):
    """One number per run from its per-iteration means: kind "best" or "last10"."""
    return float(max(means) if kind == "best" else np.mean(means[-10:])) if len(means) else np.nan


def aai_acli(m):
    """AAI = max(|PPO - TRPO+|, |PPO-M - TRPO|), ACLI = max(|PPO - PPO-M|, |TRPO+ - TRPO|) from
    {variant: mean}; (None, None) unless all four are there."""
    if any(v not in m for v in TABLE_1):
        return None, None
    ppo, ppo_m, trpo, plus = (m[v] for v in TABLE_1)
    return max(abs(ppo - plus), abs(ppo_m - trpo)), max(abs(ppo - ppo_m), abs(plus - trpo))


def parse_run_name(name):
    """`{env_id}__{exp_name}__{seed}__{unix_time}` -> those four (seed and time as int), or None."""
    found = re.fullmatch(r"(.+?)__(.+)__([0-9]+)__([0-9]+)", name)
    return (found[1], found[2], int(found[3]), int(found[4])) if found else None


def parse_hparams(text):
    """{key: value text} from the scripts' markdown hyperparameter table (`|key|value|` rows)."""
    return dict(re.findall(r"^\|\s*(\w+)\s*\|\s*([^|]*?)\s*\|$", text, flags=re.MULTILINE))


def parse_batch_size(text):
    value = parse_hparams(text).get("batch_size", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def env_family(env_id):
    return re.sub(r"-v\d+$", "", env_id)


def ablation_switches(exp_name):
    """{switch: on} from an ablation run's name, or None if it is not one of benchmark.sh's."""
    found = dict(re.findall(r"(" + "|".join(ABLATION_SWITCHES) + r")([01])", exp_name))
    valid = exp_name.startswith("ablation_") and sorted(found) == sorted(ABLATION_SWITCHES)
    return {switch: found[switch] == "1" for switch in ABLATION_SWITCHES} if valid else None


@dataclass
class Run:
    env_id: str
    exp_name: str
    seed: int
    source: str  # the run folder's name, `{env_id}__{exp_name}__{seed}__{unix_time}`
    batch_size: int
    planned_iterations: int | None
    max_kl: float | None
    clip_coef: float | None
    columns: dict  # record column -> one float per iteration 1..N, NaN where nothing was logged
    notes: list
    text: str  # the record as read: the report writes it out unchanged

    key = property(lambda self: f"{self.env_id}__{self.exp_name}__{self.seed}")
    iteration_returns = property(lambda self: (r := self.columns["mean_return"])[~np.isnan(r)])
    has_episodes = property(lambda self: len(self.iteration_returns) > 0)  # finished ones
    done_iterations = property(lambda self: len(self.columns["mean_return"]))
    complete = property(lambda self: self.done_iterations >= (self.planned_iterations or 0))


def record_from_events(path, notes):
    """The text of a run's record (see read_record), from the event files in its folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    tags, key = events.Tags(), "hyperparameters/text_summary"
    text = events.Tensors(key)[0].tensor_proto.string_val[0] if key in tags["tensors"] else b""
    text = text.decode("utf-8", errors="replace")
    hparams, batch_size = parse_hparams(text), parse_batch_size(text)
    assumed, batch_size = batch_size is None, batch_size or DEFAULT_BATCH_SIZE
    notes = notes + [f"no batch size in its hyperparameters, assumed {batch_size}"] * assumed
    logged = [tag for tag in ["charts/episodic_return", *TAGS] if tag in tags["scalars"]]
    points = [(tag.split("/")[1], p.step, p.value) for tag in logged for p in events.Scalars(tag)]
    points = pd.DataFrame(points, columns=["column", "step", "value"]).astype({"step": np.int64})
    planned = hparams.get("num_iterations", "")
    planned = planned if planned.isdigit() else ""  # as its record holds it
    # A step outside the run's iterations is not the run's, and would size the columns by itself.
    steps, limit = points.step, int(planned) if planned else len(points)
    if len(steps) and (steps.min() < 1 or iteration_of(steps.max(), batch_size) > limit):
        bad = steps.min() if steps.min() < 1 else steps.max()
        what = f"its {limit} planned" if planned else f"{limit} iterations (one per point logged)"
        what += " iterations" if planned else ""
        raise ValueError(f"a point at step {bad} lies outside {what} of {batch_size} steps")
    points["iteration"] = iteration_of(steps, batch_size)
    table = points.pivot_table("value", "iteration", "column", aggfunc="last")  # one per iteration
    table = table.reindex(index=range(1, max([0, *points.iteration]) + 1), columns=RECORD_COLUMNS)
    # An iteration's return: the mean of the episodes that ended in it (none: no return).
    returns = points[points.column == "episodic_return"].groupby("iteration").value
    table["mean_return"], table["episodes"] = returns.mean(), returns.size()
    table["iteration"], table["global_step"] = table.index, table.index * batch_size
    kl, clip = (hparams.get(k, "") for k in ("max_kl", "clip_coef"))
    kl, clip = (float(x) if re.fullmatch(r"[0-9.eE+-]+", x) else "" for x in (kl, clip))
    head = f"# Per-iteration record of the run {path.name}, extracted from its event files by"
    constants = f"run={path.name} batch_size={batch_size} batch_size_assumed={int(assumed)}"
    constants += f" planned_iterations={planned} max_kl={kl} clip_coef={clip}"
    lines = [f"{head} benchmark_report.py.", f"# {constants}", *(f"# note: {n}" for n in notes)]
    return "\n".join([*lines, table.to_csv(index=False, float_format="%.6g", lineterminator="\n")])


def load_runs(runs_dir, skipped):
    """Every run under runs_dir from its event files; of several folders of a run, the newest."""
    folders = {}
    for path in sorted(p for p in Path(runs_dir).iterdir() if p.is_dir()):
        if (parsed := parse_run_name(path.name)) and any(path.glob("events.out.tfevents.*")):
            folders.setdefault(parsed[:3], []).append((parsed[3], path))
        else:
            skipped.append(f"skipped `{path.name}`: not a run folder named env__name__seed__time")
    runs = []
    for key, candidates in sorted(folders.items()):
        path, name = max(candidates)[1], "__".join(map(str, key)) + ".csv"
        notes = [f"{len(candidates)} run folders, used the newest"] * (len(candidates) > 1)
        try:
            runs.append(read_record(name, record_from_events(path, notes)))
        except ValueError as error:
            skipped.append(f"skipped `{path.name}`: {error}")
    return runs


def read_record(path, text=None):
    """A Run from its record (the file at path, or its text), checked as a whole: a ValueError says
    what does not hold (its run named and stored under that name, its constants, its header, one
    row per iteration 1, 2, ... at step iteration * batch_size, numbers, episodes with a return)."""
    text = Path(path).read_text() if text is None else text  # UnicodeDecodeError: a ValueError
    comments = [line for line in text.split("\n") if line.startswith("#")]
    notes = [line[len("# note: ") :] for line in comments if line.startswith("# note: ")]
    constants = [line for line in comments if line.startswith("# run=")] or [""]
    constants = dict(re.findall(r"(\S+?)=(\S*)", constants[-1]))
    if parse_run_name(source := constants.get("run", "")) is None:
        raise ValueError("no `# run=...` line naming its run")
    env_id, exp_name, seed, _ = parse_run_name(source)
    if Path(path).stem != (stem := f"{env_id}__{exp_name}__{seed}"):
        raise ValueError(f"it holds the run {source}, whose record is {stem}.csv")
    for key, valid in VALID_CONSTANTS.items():
        if not re.fullmatch(valid, constants.get(key, "")):
            raise ValueError(f"{key}={constants.get(key, '')!r} in its `# run=` line")
    batch_size, width = int(constants["batch_size"]), len(RECORD_COLUMNS)
    table = list(csv.reader(line for line in text.split("\n") if line.strip() and line[0] != "#"))
    if not table or table[0] != RECORD_COLUMNS:
        raise ValueError(f"its header is not {','.join(RECORD_COLUMNS)}")
    for k, row in enumerate(table[1:], 1):
        if row[:2] != [str(k), str(k * batch_size)] or len(row) != width:
            what = f"iteration {k} at global step {k * batch_size} with {width} fields"
            raise ValueError(f"its row {k} is not {what}, but `{','.join(row)[:60]}`")
    values = np.array([[float(x) if x else np.nan for x in row[2:]] for row in table[1:]])
    columns = dict(zip(RECORD_COLUMNS[2:], values.reshape(-1, width - 2).T, strict=True))
    returns, episodes = columns["mean_return"], columns["episodes"]
    whole = np.isnan(episodes) | ((episodes % 1 == 0) & (episodes >= 1))
    if np.any(np.isnan(returns) != np.isnan(episodes)) or not whole.all():
        raise ValueError("a mean return without its number of episodes (a whole number, 1 or more)")
    kl, clip = (float(constants[k]) if constants.get(k) else None for k in ("max_kl", "clip_coef"))
    planned = int(constants["planned_iterations"]) if constants.get("planned_iterations") else None
    names = (env_id, exp_name, seed, source, batch_size, planned, kl, clip)
    return Run(*names, columns, notes, text)


def load_records(records_dir, skipped, what="the record"):
    runs = []
    for path in sorted(Path(records_dir).glob("*.csv")):
        try:
            runs.append(read_record(path))
        except ValueError as error:  # a UnicodeDecodeError too
            skipped.append(f"skipped {what} `{path.name}`: {error}")
    return sorted(runs, key=lambda r: (r.env_id, r.exp_name, r.seed))


def staged(path):
    STAGED.append((path.with_name(f".{path.name}.{os.getpid()}.tmp"), path))
    return STAGED[-1][0]


def load_paper_table(path):
    """The paper's numbers indexed by (variant, env family); empty if the file is absent."""
    text = Path(path).read_text() if Path(path).is_file() else "variant,env,mean,ci_low,ci_high"
    paper = pd.read_csv(io.StringIO(text), comment="#", index_col=["variant", "env"]).astype(float)
    return paper.rename(index={"ppo": "ppo_continuous"}, level="variant")


def run_frame(runs, origin):
    """One row per run: its names, size, both aggregates, trust region and switches."""
    rows = []
    for run in runs:
        table = pd.DataFrame(run.columns)
        kl, ratio, accepted = table.mean_kl, table.max_ratio, table.accepted
        variant, returns = run.exp_name.removesuffix("_tlterm"), run.iteration_returns
        setting = RELEASED if origin == RELEASED else TLTERM if variant != run.exp_name else OURS
        # PPO-NoClip's surrogate is not clipped: it has no eps.
        eps = np.nan if variant.startswith("ppo_noclip") else run.clip_coef or np.nan
        delta = run.max_kl or np.nan
        row = [run.env_id, variant, setting, run.seed, run.source, run.complete]
        row += [run.done_iterations, run.planned_iterations, run.batch_size]
        row += [aggregate(returns, "best"), aggregate(returns, "last10"), kl.mean()]
        row += [ratio.mean(), ratio.max(), eps, delta]
        row += [(ratio > 1 + eps).mean() if eps > 0 else np.nan]
        row += [(kl > delta).mean() if delta > 0 else np.nan]
        row += [(accepted == 0).sum() if accepted.notna().any() else np.nan]
        rows.append(row + list((ablation_switches(run.exp_name) or {}).values()))
    names = "env variant setting seed source complete done planned batch best last10 kl ratio "
    names += "ratio_max eps delta over_eps over_delta gave_up"
    extra = ABLATION_SWITCHES if runs and ablation_switches(runs[0].exp_name) else []
    return pd.DataFrame(rows, columns=names.split() + extra).astype({"planned": "Int64"})


def sort_frame(frame):
    """Environments and variants in the paper's order, then settings and seeds."""
    rank, frame = {f: i for i, f in enumerate(PAPER_ENVS)}, frame.reset_index(drop=True)
    envs = sorted(set(frame.env), key=lambda e: (rank.get(env_family(e), len(rank)), e))
    order = {"env": envs, "setting": [OURS, TLTERM, RELEASED]}
    order["variant"] = list(VARIANT_LABELS) + sorted(set(frame.variant))
    ranks = frame.assign(**{c: frame[c].map(o.index) for c, o in order.items()})
    ranks = ranks.sort_values(["env", "variant", "setting", "seed"], kind="stable")
    return frame.iloc[ranks.index].reset_index(drop=True)


def label(variant):
    return VARIANT_LABELS.get(variant, f"`{variant}`")


def number(x, digits=0):
    return "—" if x is None or pd.isna(x) else f"{x:z.{digits}f}"  # z: no "-0"


def short(x):
    return "—" if pd.isna(x) else f"{x:.4g}"


def interval(estimate, low, high, digits=0):
    text = number(estimate, digits)
    sign = "+" if text != "—" and float(text) > 0 else ""
    return f"{sign}{text} [{number(low, digits)}, {number(high, digits)}]"


def t_cell(values):
    """mean [95% t interval] (n) of one group's values."""
    values = pd.Series(values, dtype=float).dropna()
    if len(values) < 2:
        return f"{number(values.mean())} (n=1)" if len(values) else "—"
    return f"{interval(*stats.above(values, 0).row()[:3]).lstrip('+')} (n={len(values)})"


def markdown(frame):
    return frame.to_markdown(index=False, disable_numparse=True) + "\n"


def pick(frame, env, variant, setting=OURS):
    return frame[(frame.env == env) & (frame.variant == variant) & (frame.setting == setting)]


def group(frame, env, variant, column):
    return pick(frame, env, variant)[column].dropna().to_numpy(dtype=float)  # frame: finished runs


def paper_means(paper, env):
    family = env_family(env)
    return {v: paper.loc[(v, family), "mean"] for v in TABLE_1 if (v, family) in paper.index}


def paper_claims(frame, paper):
    """Every claim of the paper on every environment run: one row each (and per aggregate)."""
    rows = []
    for env in frame.env.unique():
        theirs = paper_means(paper, env)
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
        log = {"kl": {v: np.log(group(frame, env, v, "kl")) for v in VARIANT_LABELS}}
        log["ratio"] = {v: np.log(group(frame, env, v, "ratio") - 1) for v in VARIANT_LABELS}
        for name, values in log.items():
            add(f"ppom_{name}", stats.greater(values["ppo_m"], values["ppo_continuous"]))
        for variant, prefix in ("ppo_noclip", "noclip"), ("ppo_noclip_only", "noclip_only"):
            for name, values in log.items():
                a, b = values[variant], values["ppo_continuous"]
                add(f"{prefix}_{name}", stats.equivalent(a, b, np.log(KL_MARGIN)))
    names = ["env", "claim", "text", "where", "aggregate", *RESULT_COLUMNS, "paper"]
    claims = pd.DataFrame(rows, columns=names)
    ratios = (claims.claim.isin(RATIO_CLAIMS), ["estimate", "ci_low", "ci_high"])
    claims.loc[ratios] = np.exp(claims.loc[ratios].astype(float))
    return claims


def all_claims(claims, effects):
    """The paper's claims, then its ablation's: in all pairs, and reward scaling x value clipping
    split (value clipping without reward scaling collapses learning, its bound in raw reward
    units); each where its groups have runs."""
    effects = effects.assign(claim=effects.switch + effects.subset.map(SPLITS).fillna("?"))
    effects = effects[effects.claim.isin(CLAIM_TEXT)].copy()
    effects["text"], effects["where"] = ([CLAIM_TEXT[c][i] for c in effects.claim] for i in (0, 1))
    claims = pd.concat([claims, effects.drop(columns=["switch", "subset"])], ignore_index=True)
    return claims[~claims.n.astype(str).str.contains(r"\b0\b")].reset_index(drop=True)


def comparisons(frame):
    """What the paper did not compare: the time limit, -v5 against -v4, ours against the released
    code; each two-sided. Not counted among the paper's claims."""
    rows, frame = [], frame[frame.complete]
    for env in frame.env.unique():
        v5 = env.replace("-v4", "-v5") if env.endswith("-v4") else None  # None: no runs
        for variant in VARIANT_LABELS:
            at = {s: pick(frame, env, variant, s) for s in (OURS, TLTERM, RELEASED)}
            pairs = [(f"{OURS} minus {TLTERM} (paired by seed)", at[OURS], at[TLTERM], True)]
            pairs += [(f"{s} minus the {RELEASED}", at[s], at[RELEASED], False) for s in at]
            pairs += [(f"{v5} minus {env}", pick(frame, v5, variant), at[OURS], False)]
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
                    row = [env, label(variant), what, AGGREGATES[kind], interval(*result.row()[:3])]
                    rows.append(row + [result.n, p, stats.two_sided_word(result)])
    names = ["environment", "variant", "comparison", "aggregate", "difference [95% CI]", "n"]
    return pd.DataFrame(rows, columns=names + ["p (above, below)", "the first is"])


def in_words(levels):
    """{switch: on} in words, e.g. "reward scaling on, value clipping off"."""
    return ", ".join(f"{SWITCH_NAMES[s]} {'on' if on else 'off'}" for s, on in levels.items())


def ablation_effects(frame):
    """Per environment, switch, aggregate and subset: the switch's effect, on minus off over the
    pairs of runs that share every other switch and the seed, in all pairs and split by the
    levels of reward scaling and value clipping (the switches that interact)."""
    rows = []
    for env in frame.env.unique():
        runs = frame[(frame.env == env) & frame.complete]
        for switch in ABLATION_SWITCHES:
            by = [s for s in INTERACTING if s != switch]
            others, no_gain = [s for s in ABLATION_SWITCHES if s != switch], switch == "clip_vloss"
            subsets = [(in_words(dict(zip(by, k, strict=True))), s) for k, s in runs.groupby(by)]
            subsets = [("all pairs", runs), *subsets]
            for (name, subset), kind in itertools.product(subsets, AGGREGATES):
                pairs = subset.pivot_table(index=["seed", *others], columns=switch, values=kind)
                pairs = pairs.reindex(columns=[True, False]).dropna()
                on, off = pairs[True].to_numpy(), pairs[False].to_numpy()
                margin = NO_GAIN_MARGIN * off.mean() if no_gain and len(off) else None
                result = stats.paired_greater(on, off, margin)
                rows.append([env, switch, name, kind, *result.row()])
    return pd.DataFrame(rows, columns=["env", "switch", "subset", "aggregate", *RESULT_COLUMNS])


def write_ablation(frame, effects, out):
    parts = [
        "# The paper's Fig. 1: PPO's four switches\n",
        "Each switch's effect: the return with it on minus off, over the pairs of runs that share "
        "the other three switches and the seed, on each aggregate; then split by the switches it "
        "interacts with (reward scaling, value clipping). Every combination runs with its "
        "environment's released PPO learning rates (the paper took the best of several per "
        "combination). The paper's reading of its Fig. 1 (wording unverified): reward scaling, "
        "learning-rate annealing and orthogonal init raise the return; value clipping brings no "
        f"gain, tested as its effect staying below +{NO_GAIN_MARGIN:.0%} of the mean return "
        "without it (a one-sided paired t-test against that margin).\n",
        stats.METHOD + "\n",
    ]
    grid = frame.groupby("env", sort=False).agg(runs=("complete", "sum"), seeds=("seed", "unique"))
    grid = grid.reset_index()
    grid["of"] = grid.seeds.map(lambda s: f"{16 * len(s)} (16 x seeds {', '.join(map(str, s))})")
    parts.append("## The grid\n\n" + markdown(grid[["env", "runs", "of"]]))
    table = effects.assign(claim=effects.switch.map(CLAIM_TEXT).str[0])
    table["effect [95% CI]"] = [interval(*r) for r in table.loc[:, "estimate":"ci_high"].values]
    table["p"] = table.p.map(lambda p: number(p, 4))
    table["aggregate"] = table["aggregate"].map(AGGREGATES)
    shown, index = ["effect [95% CI]", "p", "mark"], ["claim", "subset", "n"]
    for env, here in table.groupby("env", sort=False):
        here = here.pivot_table(shown, index, "aggregate", aggfunc="first", sort=False)
        here.columns = [f"{c} ({k})" for c, k in here.columns]
        heading = f"## {env}: effect of turning each switch on"
        parts.append(f"{heading}\n\n{markdown(here.reset_index())}")
    staged(out / "ablation.md").write_text("\n".join(parts))


def returns_table(frame, paper):
    """Rows (environment, variant, runs); columns: the paper's number and both aggregates."""
    rows = []
    for (env, variant, setting), runs in frame.groupby(["env", "variant", "setting"], sort=False):
        key, cells = (variant, env_family(env)), [t_cell(runs[kind]) for kind in AGGREGATES]
        known = key in paper.index and setting == OURS
        theirs = interval(*paper.loc[key]).lstrip("+") if known else ""
        rows.append([env, label(variant), setting, theirs, *cells])
        last = frame[(frame.env == env) & (frame.variant == variant)].setting.iloc[-1]
        if variant == "trpo_plus" and setting == last:  # AAI and ACLI after TRPO+'s last row
            here = frame[(frame.env == env) & (frame.setting == OURS)]
            means = here.groupby("variant")[list(AGGREGATES)].mean()
            ours = [aai_acli(means[kind].to_dict()) for kind in AGGREGATES]
            theirs = aai_acli(paper_means(paper, env))
            for i, name in enumerate(("AAI", "ACLI")):
                rows.append([env, name, OURS, number(theirs[i]), *(number(o[i]) for o in ours)])
    columns = ["environment", "variant", "runs", "paper"]
    return pd.DataFrame(rows, columns=columns + list(AGGREGATES.values()))


def trust_region_table(frame):
    how = dict(seed="size", ratio_max="max", kl="mean", ratio="mean", over_eps="mean")
    how |= dict(over_delta="mean", eps="max", delta="max")
    table = frame[frame.kl.notna()].groupby(["env", "variant", "setting"], sort=False).agg(how)
    table = table.map(short).reset_index().assign(variant=lambda t: t.variant.map(label))
    names = "environment,variant,runs,n,largest max ratio,mean KL,max ratio"
    names += ",share of iterations above 1 + eps,share with mean KL above delta,eps,delta"
    return table.set_axis(names.split(","), axis=1)


def claims_markdown(claims):
    table = claims[["env", "text", "where"]].copy()
    table["aggregate"] = claims["aggregate"].map(AGGREGATES).fillna("per run: over iterations")
    digits = [2 if key in [*RATIO_CLAIMS, "ppo_ratio"] else 0 for key in claims.claim]
    estimates = claims[["estimate", "ci_low", "ci_high"]].values
    table["ours [95% CI]"] = [interval(*e, d) for e, d in zip(estimates, digits, strict=True)]
    table["paper"] = [interval(p, None, None).split(" [")[0] for p in claims.paper]
    table[["n", "test"]] = claims[["n", "test"]]
    table[["p", "p, other way"]] = claims[["p", "p_against"]].map(lambda p: number(p, 4))
    table["mark"] = "**" + claims.mark + "**"
    return markdown(table.rename(columns={"text": "claim (in the paper's direction)"}))


def write_table_md(frame, claims, paper, notes, out):
    parts = ["# Results in the layout of the paper's Tables 1 and 2\n", RETURN_PROTOCOL + "\n"]
    parts.append(
        "Paper: Engstrom et al. 2020, Tables 1 and 2 (gym -v2, about 40 agents per cell), which do "
        "not say which aggregate they report. Ours: mean [95% t interval] (n seeds). AAI and ACLI: "
        "max(|PPO - TRPO+|, |PPO-M - TRPO|) and max(|PPO - PPO-M|, |TRPO+ - TRPO|) of the means.\n"
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
                " each two-sided at alpha = 0.05 (the one-sided p-values, each against 0.025). "
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
    of = frame.planned.map(" of {}".format).where(~frame.complete, "")
    per_run["done"] = frame.done.astype(str) + of
    per_run[["best", "last10", "gave_up"]] = per_run[["best", "last10", "gave_up"]].map(number)
    per_run[["kl", "ratio"]] = per_run[["kl", "ratio"]].map(short)
    head = "environment,run,iterations,best iteration,last 10,mean KL,max ratio,line search gave up"
    parts.append("## Per run\n\n" + markdown(per_run.set_axis(head.split(","), axis=1)))
    if notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    staged(out / "table.md").write_text("\n".join(parts))
    claims.to_csv(staged(out / "claims.csv"), index=False, float_format="%.6g")


def plot_runs(ax, runs_by_source, runs, column, how, colour, label=None):
    """One record column over the steps, rolling mean or median of 10 iterations: each run thin,
    their mean or median bold."""
    matrix = pd.DataFrame({s: pd.Series(runs_by_source[s].columns[column]) for s in runs.source})
    matrix = (matrix - 1 if column == "max_ratio" else matrix).rolling(10, min_periods=1)
    matrix = matrix.mean() if how == "mean" else matrix.median().clip(lower=1e-6)  # log scale
    steps = (matrix.index + 1) * runs.batch.iloc[0] / 1e6
    ax.plot(steps, matrix.to_numpy(), color=colour, alpha=0.3, lw=0.6)
    ax.plot(steps, matrix.agg(how, axis=1), color=colour, lw=1.8, label=label)


def panels(count, rows=1):
    columns = -(-count // rows)
    figure = Figure(figsize=(3.4 * columns, 2.8 * rows), layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False)


def save(figure, path, title):
    figure.suptitle(title, fontsize=9)
    figure.savefig(staged(path), dpi=80, format="png")


def plot_iterations(frame, runs_by_source, paper, out):
    """Per environment, two figures. The return: a panel per variant, each seed thin and their mean
    bold per setting, the paper's level dashed. The trust region: mean KL and max ratio - 1 per
    variant and setting, each panel on its own log scale, as rolling medians of 10 iterations: no
    variant's spike flattens another's panel."""
    for env, here in frame.groupby("env", sort=False):
        variants = list(dict.fromkeys(here.variant))  # in the paper's order: the frame is sorted
        figure, axes = panels(len(variants), 1 + (len(variants) > 3))
        for ax, variant in zip(axes.flat, variants, strict=False):
            for setting, runs in here[here.variant == variant].groupby("setting", sort=False):
                name, colour = f"{setting} (n={len(runs)})", COLOURS[setting]
                plot_runs(ax, runs_by_source, runs, "mean_return", "mean", colour, name)
            if (level := paper["mean"].get((variant, env_family(env)))) is not None:
                ax.axhline(level, color="black", linestyle="--", lw=1, label="paper (gym -v2)")
            ax.set(title=label(variant), xlabel="steps (millions)", ylabel="return")
            ax.legend(fontsize=6, loc="lower right")
        for ax in axes.flat[len(variants) :]:
            ax.set_visible(False)
        title = f"{env}: return per iteration, rolling mean of 10 (thin: seeds; bold: their mean)"
        save(figure, out / f"curves_{env}.png", title)
        groups = list(here[here.kl.notna()].groupby(["variant", "setting"], sort=False))
        figure, axes = panels(2 * len(groups), 2)
        for column, ((variant, setting), runs) in enumerate(groups):
            for ax, (name, bound, ylabel) in zip(axes[:, column], TRUST_PANELS, strict=True):
                plot_runs(ax, runs_by_source, runs, name, "median", "tab:blue")
                if runs[bound].max() < 1e6:  # PPO-NoClip's released eps is 1e32
                    ax.axhline(runs[bound].max(), color="black", ls="--", lw=1, label=bound)
                    ax.legend(fontsize=6)
                title = label(variant) + ("" if setting == OURS else f", {setting}")
                ax.set(yscale="log", xlabel="steps (millions)", ylabel=ylabel)
                ax.set_title(f"{title} (n={len(runs)})", fontsize=8)
        title = f"{env}: rolling median of 10 iterations (thin: seeds; bold: their median)"
        save(figure, out / f"trust_region_{env}.png", title)


def plot_ablation(frame, effects, out):
    """Per switch, each pair of runs off and on, coloured by reward scaling x value clipping."""
    colours = {(1, 1): "tab:blue", (1, 0): "tab:green", (0, 1): "tab:red"}
    style = {"marker": "o", "ms": 3, "lw": 0.8, "alpha": 0.7}
    for env in frame.env.unique():
        runs = frame[(frame.env == env) & frame.complete]
        figure, axes = panels(4)
        for ax, switch in zip(axes.flat, ABLATION_SWITCHES, strict=True):
            others = [x for x in ABLATION_SWITCHES if x != switch]
            pairs = runs.pivot_table(index=["seed", *others], columns=switch, values="best")
            for levels, row in pairs.reindex(columns=[False, True]).dropna().iterrows():
                state = dict(zip(others, levels[1:], strict=True))
                name = in_words({x: state[x] for x in INTERACTING if x in state})
                name = None if name in ax.get_legend_handles_labels()[1] else name
                colour = colours.get(tuple(int(state.get(x, 1)) for x in INTERACTING), "tab:gray")
                ax.plot([0, 1], row.to_numpy(), color=colour, label=name, **style)
            mine = effects[(effects.env == env) & (effects.switch == switch)]
            mark = " / ".join(mine[mine.subset == "all pairs"].mark)
            ax.set_xticks([0, 1], ["off", "on"])
            ax.set(xlim=(-0.3, 1.3), ylabel="best iteration")
            ax.set_title(f"{SWITCH_NAMES[switch]}: {mark}\n(best / last 10)", fontsize=8)
            ax.legend(fontsize=6)
        title = f"{env}: each pair of runs with the switch off and on, the rest and the seed shared"
        save(figure, out / f"ablation_{env}.png", title)


def readme_block(frame, claims, paper, link):
    done = frame[frame.complete & frame.env.isin(README_ENVS) & frame.variant.isin(VARIANT_LABELS)]
    envs = [e for e in README_ENVS if e in set(done.env)]
    if not envs:
        return None
    ours = done[done.setting == OURS]
    n = ours.groupby("env").variant.value_counts().groupby("env").max()
    rows = []
    for setting, variant in itertools.product([OURS, TLTERM, RELEASED], VARIANT_LABELS):
        here = done[(done.setting == setting) & (done.variant == variant)]
        if len(here) == 0:
            continue  # a row only where there are runs
        rows.append([label(variant) + ROW_SUFFIX[setting]])
        for env in envs:
            runs, key = here[here.env == env], (variant, env_family(env))
            theirs = paper["mean"].get(key) if setting == OURS else None
            cell = [number(theirs), *map(number, runs[["last10", "best"]].mean())]
            size = f" (n={len(runs)})" if len(runs) != n[env] else ""
            rows[-1].append(" / ".join(cell) + size if len(runs) else "—")
    rows.append(["*The paper's claims (where it makes them)*", *([""] * len(envs))])
    for key, text, where in CLAIMS:
        if len(mine := claims[claims.claim == key]):
            cells = [" / ".join(mine[mine.env == env].mark) or "—" for env in envs]
            both = " (best / last 10)" if mine["aggregate"].iloc[0] in AGGREGATES else ""
            rows.append([f"{text}, {where}{both}", *cells])
    header = [""] + [f"{env} (n={n.get(env, 0)})" for env in envs]
    table = pd.DataFrame(rows, columns=header).to_markdown(index=False, disable_numparse=True)
    levels = []
    for kind, name in AGGREGATES.items():
        means = ours.groupby(["variant", "env"])[kind].mean()
        ratio = (means.rename(env_family, level="env") / paper["mean"]).dropna()
        if len(ratio):
            mean, span = np.exp(np.log(ratio).mean()), f"{ratio.min():.2f}-{ratio.max():.2f}x"
            levels.append(f"on the {name} {span} (geometric mean {mean:.2f})")
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
    found = []
    for what, rows in compared[compared.comparison.str.endswith(RELEASED)].groupby("comparison"):
        counts = ", ".join(f"{w} in {k}" for w, k in rows["the first is"].value_counts().items())
        found.append(f"{what.split(' minus')[0]}: {counts} of {len(rows)}")
    if found:
        where = f"[table.md]({link}table.md#comparisons-that-the-paper-did-not-make)"
        lines.append(
            f"**Against the released code** ({len(done[done.setting == RELEASED])} runs; "
            f"{RELEASED_PROTOCOL[0].lower()}{RELEASED_PROTOCOL[1:-1]}), two-sided per variant and "
            f"aggregate: {'; '.join(found)} ({where})."
        )
    return "\n".join(lines) + "\n"


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
    ours = args.out.resolve() == (results := REPOSITORY / "benchmark_results").resolve()
    released = args.released or (results / "released/records" if ours else None)
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
    (args.out / "records").mkdir(parents=True, exist_ok=True)
    written = []
    if args.runs is not None or args.records.resolve() != (args.out / "records").resolve():
        for run in runs:
            staged(args.out / "records" / f"{run.key}.csv").write_text(run.text)
        stale = set((args.out / "records").glob("*.csv")) - {s for _, s in STAGED}
        warn(*(f"{p} is not one of these runs (left from an earlier report?)" for p in stale))
        written.append(f"{args.out / 'records'}/ ({len(runs)} runs)")
    notes = skipped + [f"`{r.source}`: {note}" for r in runs for note in r.notes]
    empty = [r.source for r in runs if not r.has_episodes]
    notes += [f"`{source}` has no finished episodes; left out" for source in empty]
    warn(*notes)
    runs, released = ([r for r in rs if r.has_episodes] for rs in (runs, released))
    if not runs:
        sys.exit(f"benchmark_report.py: no run in {source} has a finished episode yet")
    by_source = {r.source: r for r in runs + released}
    if len(paper := load_paper_table(args.paper_table)) == 0:
        missing = f"no paper table at {args.paper_table}; its columns stay empty"
        print(f"benchmark_report.py: {missing}", file=sys.stderr)
    ablation = [r for r in runs if ablation_switches(r.exp_name)]
    table = [r for r in runs if not ablation_switches(r.exp_name)]
    frame = [run_frame(rs, s) for rs, s in ((table, OURS), (released, RELEASED)) if rs]
    frame = sort_frame(pd.concat(frame)) if table else None
    effects = pd.DataFrame(columns=["env", "switch", "subset", "n", "mark", "aggregate"])
    if ablation:
        ablation = sort_frame(run_frame(ablation, OURS))
        effects = ablation_effects(ablation)
        write_ablation(ablation, effects, args.out)
        plot_ablation(ablation, effects, args.out)
    if table:
        claims = paper_claims(frame[frame.complete], paper) if frame.complete.any() else None
        claims = all_claims(claims, effects)
        write_table_md(frame, claims, paper, notes, args.out)
        plot_iterations(frame, by_source, paper, args.out)
    readme = args.readme or (REPOSITORY / "README.md" if ours else None)
    if readme is not None and table:
        link = Path(os.path.relpath(args.out, Path(readme).parent)).as_posix() + "/"
        text = Path(readme).read_text() if Path(readme).is_file() else ""
        start, end = text.find(REPRO_START), text.find(REPRO_END)
        if start < 0 or end < start:
            print(f"note: {readme} has no reproduction marker lines: not written", file=sys.stderr)
        elif (block := readme_block(frame, claims, paper, link)) is not None:
            staged(readme).write_text(text[:start] + REPRO_START + "\n" + block + text[end:])
    written += [final for _, final in STAGED if final.parent != args.out / "records"]
    print(f"report on {len(runs) + len(released)} runs:")
    print("".join(f"  {path}\n" for path in written), end="")


if __name__ == "__main__":
    args = tyro.cli(Args)
    try:
        main(args)
    except KeyboardInterrupt:
        print(f"Ctrl-C: aborted; the report in {args.out} is as it was", file=sys.stderr)
        sys.exit(130)
    except OSError as error:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        what = f"the disk of {args.out} is full" if full else f"{error.strerror}: {error.filename}"
        where = "there" if full else f"in {args.out}"
        sys.exit(f"benchmark_report.py: {what}; the report {where} is as it was")
