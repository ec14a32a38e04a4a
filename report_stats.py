"""The benchmark report's statistics: one calibrated test per kind of claim, and its mark.

Every test is scipy.stats' and none draws random numbers, so no mark depends on an RNG seed. A
Result holds one-sided p-values for and against the claim; its mark, at ALPHA: "agrees" when the
test for the claim rejects, "disagrees" when the test the other way rejects, else "not resolved".
"""

from dataclasses import astuple, dataclass

import numpy as np
import scipy.stats

ALPHA = 0.05
MIN_RUNS = 2  # per group: one run has no spread, so no test
METHOD = (
    f"**Marks.** Each claim is tested at alpha = {ALPHA}, one-sided in the paper's direction: "
    "**agrees** when that test rejects, **disagrees** when the test the other way rejects, **not "
    f"resolved** otherwise or when a group has fewer than {MIN_RUNS} runs. Tests (`scipy.stats`; "
    "none random, so no mark depends on a seed): two groups of runs, the exact permutation test of "
    "the difference of means over every split of the runs (5 and 5 seeds: 252 splits, p >= 1/252; "
    "3 and 5: 56, p >= 0.018; 3 and 3: 20, p >= 0.05, never resolved); pairs (by seed or by the "
    "other switches), the paired t-test; one group against a bound, the one-sample t-test; a claim "
    "of no difference, two one-sided tests against its stated margin. ACLI - AAI, a difference of "
    "maxima of absolute differences of means, is a linear contrast of them once each maximum's arm "
    "and sign are fixed at the observed means: Welch's t with Welch-Satterthwaite df; choosing the "
    "arms from the same data favours both maxima alike, and `tests/` measures its false-positive "
    "rate with no difference. Intervals: 95% t intervals. Limits: 5 seeds resolve only large "
    "effects; the several dozen marks carry no multiplicity correction: a few may be chance."
)


@dataclass
class Result:
    estimate: float
    low: float
    high: float
    n: str  # the runs or pairs behind it, e.g. "5, 5" or "24 pairs"
    test: str
    p: float = np.nan  # one-sided p-value for the claim (NaN: no test)
    p_against: float = np.nan  # one-sided p-value for the opposite

    mark = property(lambda self: str(mark_of(self.p, self.p_against)))

    def row(self):
        return [*astuple(self), self.mark]


def mark_of(p, p_against):
    """The mark from the one-sided p-values for and against the claim; arrays too."""
    return np.where(p < ALPHA, "agrees", np.where(p_against < ALPHA, "disagrees", "not resolved"))


def two_sided_word(result):
    """Not a claim of the paper: the first group above or below the second, each side at ALPHA/2."""
    level = ALPHA / 2
    return "above" if result.p < level else "below" if result.p_against < level else "not resolved"


def permutation_p(a, b, alternative, shift=0.0):
    """Exact permutation p-value of mean(a) - shift - mean(b) ("greater" or "less"), over the last
    axis: a and b may hold many draws, one per row."""
    a, b = np.asarray(a, float) - shift, np.asarray(b, float)
    options = dict(permutation_type="independent", n_resamples=np.inf, vectorized=True, axis=-1)
    p = scipy.stats.permutation_test(
        (a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), alternative=alternative, **options
    ).pvalue
    return p if np.ndim(p) else float(p)


def _unpaired(a, b, test):
    a, b = np.asarray(a, float), np.asarray(b, float)
    estimate = float(np.mean(a) - np.mean(b)) if len(a) and len(b) else np.nan
    result = Result(estimate, np.nan, np.nan, f"{len(a)}, {len(b)}", test)
    if min(len(a), len(b)) >= MIN_RUNS:
        result.low, result.high = estimate, estimate
        if np.ptp(a) + np.ptp(b) > 0:
            welch = scipy.stats.ttest_ind(a, b, equal_var=False)
            result.low, result.high = (float(x) for x in welch.confidence_interval(0.95))
    return a, b, result


def greater(a, b):
    """Claim: mean(a) > mean(b), two groups that share nothing."""
    a, b, result = _unpaired(a, b, "exact permutation")
    if not np.isnan(result.low):
        result.p, result.p_against = permutation_p(a, b, "greater"), permutation_p(a, b, "less")
    return result


def equivalent(a, b, margin):
    """Claim: |mean(a) - mean(b)| < margin (TOST, each side a permutation test after shifting a by
    the margin); disagrees when the difference lies beyond the margin, either way."""
    a, b, result = _unpaired(a, b, f"TOST, margin {margin:.3g}, exact permutation")
    if not np.isnan(result.low):
        result.p = max(permutation_p(a, b, "greater", -margin), permutation_p(a, b, "less", margin))
        beyond = permutation_p(a, b, "greater", margin), permutation_p(a, b, "less", -margin)
        result.p_against = min(beyond)
    return result


def _t_test(differences, n, test, below=False):
    d = np.asarray(differences, float)
    result = Result(np.mean(d) if len(d) else np.nan, np.nan, np.nan, n, test)
    if len(d) >= MIN_RUNS:  # no spread: no t statistic, the interval a point
        result.low = result.high = result.estimate
    if len(d) >= MIN_RUNS and np.ptp(d) > 0:
        result.low, result.high = scipy.stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
        up, down = (
            scipy.stats.ttest_1samp(d, 0, alternative=a).pvalue for a in ("greater", "less")
        )
        result.p, result.p_against = (down, up) if below else (up, down)
    return result


def above(values, bound):
    """Claim: the mean of values is above bound (one-sample t-test)."""
    return _t_test(np.asarray(values, float) - bound, f"{len(values)}", "one-sample t")


def paired_greater(on, off, margin=None):
    """Claim: on > off over pairs (paired t-test); with a margin, the claim that on - off stays
    below it (no gain beyond the margin)."""
    d = np.asarray(on, float) - np.asarray(off, float)
    pairs = f"{len(d)} pair{'' if len(d) == 1 else 's'}"
    if margin is None:
        return _t_test(d, pairs, "paired t")
    result = _t_test(d - margin, pairs, f"paired t, margin {margin:.0f}", below=True)
    result.estimate, result.low, result.high = (x + margin for x in astuple(result)[:3])
    return result


def acli_minus_aai(ppo, ppo_m, trpo, trpo_plus):
    """Claim: ACLI > AAI (of the four means). With each maximum's arm and sign fixed at the observed
    means, ACLI - AAI = sum(w * mean), a linear contrast: standard error sqrt(sum(w^2 s^2 / n)),
    Welch-Satterthwaite degrees of freedom, Student's t."""
    groups = [np.asarray(g, float) for g in (ppo, ppo_m, trpo, trpo_plus)]
    n, test = ", ".join(str(len(g)) for g in groups), "Welch t on a contrast"
    if min(len(g) for g in groups) < MIN_RUNS:
        return Result(np.nan, np.nan, np.nan, n, test)
    means = np.array([g.mean() for g in groups])
    weights = np.zeros(4)
    for sign, arms in (1, [(0, 1), (3, 2)]), (-1, [(0, 3), (1, 2)]):
        i, j = max(arms, key=lambda ij: abs(means[ij[0]] - means[ij[1]]))
        weights[[i, j]] += sign * (np.sign(means[i] - means[j]) or 1.0) * np.array([1, -1])
    estimate = float(weights @ means)
    terms = np.array([w**2 * g.var(ddof=1) / len(g) for w, g in zip(weights, groups, strict=True)])
    if terms.sum() == 0:
        return Result(estimate, estimate, estimate, n, test)
    se = np.sqrt(terms.sum())
    df = terms.sum() ** 2 / sum(t**2 / (len(g) - 1) for t, g in zip(terms, groups, strict=True))
    half, t = scipy.stats.t.ppf(0.975, df) * se, estimate / se
    p, against = float(scipy.stats.t.sf(t, df)), float(scipy.stats.t.cdf(t, df))
    return Result(estimate, estimate - half, estimate + half, n, test, p, against)
