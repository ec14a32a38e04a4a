"""The statistics of the benchmark's report: seed-bootstrap intervals and the one verdict rule.

benchmark_report.py imports this module; nothing else does (the training scripts import nothing of
ours). The resampling is scipy.stats.bootstrap's, with the percentile method, so that no interval in
the report comes from a hand-written loop. With its fixed RNG seed it draws exactly the resamples
that the report's earlier numpy code drew, so the committed tables did not change when it came in.

The verdict rule, the one place it is written down (the report prints VERDICT_RULE):

- a claim is a statistic that is positive when the claim holds (a difference of means, ACLI - AAI,
  ...);
- its interval is the percentile bootstrap over seeds; groups of runs that share nothing are
  resampled apart (unpaired), runs that share a seed are resampled together (paired by seed);
- P is the fraction of resamples in which the statistic is positive, a tie at 0 counting half;
- the verdict is "holds" when the interval lies above 0, "contradicted" when it lies below 0, and
  otherwise "leans" when P >= LEANS, "leans against" when P <= 1 - LEANS, "no evidence" in between;
  a group with fewer than MIN_RUNS runs gets "too few runs", whatever the numbers.
"""

from dataclasses import dataclass

import numpy as np
import scipy.stats

CONFIDENCE = 0.95
N_RESAMPLES = 10_000  # bootstrap resamples for the tables and verdicts
BOOTSTRAP_SEED = 0  # fixed, so the same runs always give the same report
# P at or above which a claim whose interval still reaches 0 "leans" (and at or below 1 - LEANS,
# "leans against"): four resamples in five. A judgement call, fixed before looking at the verdicts.
LEANS = 0.8
MIN_RUNS = 2  # per group: one run has no spread to resample, so no verdict

VERDICTS = ["holds", "leans", "no evidence", "leans against", "contradicted", "too few runs"]
VERDICT_RULE = (
    "**Verdicts**, one rule for every claim below. A claim is a statistic that is positive when "
    f"the claim holds. Its {CONFIDENCE:.0%} interval is a percentile bootstrap over seeds "
    f"(`scipy.stats.bootstrap`, {N_RESAMPLES} resamples, RNG seed {BOOTSTRAP_SEED}): groups of "
    "runs that share nothing are resampled apart (*unpaired*), runs that share a seed are "
    "resampled together (*paired by seed*). P is the fraction of resamples in which the statistic "
    "is positive (a tie at 0 counts half). The verdict is **holds** when the interval lies above "
    f"0, **contradicted** when it lies below 0, and otherwise **leans** when P >= {LEANS:g}, "
    f"**leans against** when P <= {1 - LEANS:.1g}, **no evidence** in between; a group of fewer "
    f"than {MIN_RUNS} runs gets **too few runs**. With a handful of seeds a resample can only mix "
    "the values seen, so the interval is narrower than the truth and P more confident: a verdict "
    "from 3 seeds says how far the seeds agree, not more."
)


def bootstrap(
    samples,
    statistic,
    paired=False,
    n_resamples=N_RESAMPLES,
    confidence=CONFIDENCE,
    seed=BOOTSTRAP_SEED,
):
    """(estimate, low, high, resampled statistics) of statistic(*samples, axis=-1).

    A sample of one value resamples to itself, so it is held fixed rather than handed to scipy
    (which wants two or more); with no sample left to resample the interval is the estimate alone.
    """
    samples = [np.asarray(sample, dtype=np.float64) for sample in samples]
    estimate = float(statistic(*samples, axis=-1))
    varying = [i for i, sample in enumerate(samples) if len(sample) > 1]
    if not varying:
        return estimate, estimate, estimate, np.array([estimate])

    def of_varying(*resampled, axis=-1):
        full = list(samples)
        for i, sample in zip(varying, resampled, strict=True):
            full[i] = sample
        # A fixed sample broadcasts against the resampled ones along the last axis only.
        return statistic(*full, axis=axis)

    result = scipy.stats.bootstrap(
        [samples[i] for i in varying],
        of_varying,
        paired=paired,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return estimate, float(low), float(high), result.bootstrap_distribution


def mean(values, axis=-1):
    return np.mean(values, axis=axis)


def difference_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def mean_ci(values):
    """Mean and percentile-bootstrap interval of the mean over seeds: (mean, low, high)."""
    return bootstrap([values], mean)[:3]


def difference_ci(a, b, paired=False):
    """mean(a) - mean(b) and its interval: (difference, low, high)."""
    return bootstrap([a, b], difference_of_means, paired=paired)[:3]


@dataclass
class Verdict:
    estimate: float
    low: float
    high: float
    p: float  # P(statistic > 0) under resampling
    word: str  # one of VERDICTS
    counts: tuple  # runs (or pairs) per group


def verdict_word(low, high, p, enough=True):
    """The verdict rule (module docstring), on an interval and P."""
    if not enough:
        return "too few runs"
    if low > 0:
        return "holds"
    if high < 0:
        return "contradicted"
    if p >= LEANS:
        return "leans"
    if 1 - p >= LEANS:
        return "leans against"
    return "no evidence"


def judge(samples, statistic, paired=False):
    """The verdict on the claim statistic(*samples) > 0, each sample one group's values per seed
    (paired: the same seeds in the same order in every sample)."""
    estimate, low, high, resampled = bootstrap(samples, statistic, paired=paired)
    p = float(np.mean(resampled > 0) + 0.5 * np.mean(resampled == 0))
    counts = tuple(len(sample) for sample in samples)
    word = verdict_word(low, high, p, enough=min(counts) >= MIN_RUNS)
    return Verdict(estimate, low, high, p, word, counts[:1] if paired else counts)
