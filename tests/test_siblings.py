"""The four scripts are one skeleton: a diff between two siblings must show only the
idea that separates them. The rules, which every new sibling inherits:

1. Every script has the same section banners in the same order (titles compared up to their first
   colon).
2. minimal -> full (ppo_m -> ppo_continuous, trpo -> trpo_plus): outside the module docstring, every
   hunk either changes only a CONFIG_FIELDS default (the released configs differ), or adds lines
   that belong to an optimization (a `# Optimization N` tag or one of the switches' names), or is
   Optimization 3's alternative init (layer_init) or the Args comment that says which optimizations
   the file carries. Nothing else. The minimal script carries none of the seven dropped tags, and
   both pairs add the same tags.
3. The TRPO pair adds the same optimization lines as the PPO pair (outside Args and the
   policy-update section): the same hunks.
4. PPO -> TRPO (ppo_continuous -> trpo_plus, ppo_m -> trpo): every changed line lies in the module
   docstring, the policy-update Args block, the policy-step helpers, the policy-update section, or
   is a line about the policy's optimizer or step size, or a CONFIG_FIELDS default or its docstring
   (the released configurations differ), or the docstring of a VALUE_FIT_FIELDS field (PPO's policy
   update uses them too, TRPO's does not), or the check that advantages can be normalized (per
   minibatch in PPO, per batch in TRPO): a rule of check_args.
"""

import difflib
import re

import pytest
from conftest import PRESENT, ROOT

DROPPED = [
    1,
    2,
    3,
    4,
    5,
    7,
    9,
]  # the optimizations the minimal variants do not carry (6 and 8 are kept)
OPTIMIZATION_NAMES = (
    "Optimization",
    "clip_vloss",
    "scale_reward",
    "reward_scaler",
    "RewardScaler",
    "ortho_init",
    "anneal_lr",
    "clip_reward",
    "clip_obs",
    "clip_grad_norm",
    "max_grad_norm",
    "clipped_value_loss",
    "frac",
)
ARGS_FIELD = re.compile(r"^    (\w+): [\w\[\]. |]+ = .+$")
# The Args whose defaults differ between siblings: each variant's released Hopper configuration.
CONFIG_FIELDS = {"learning_rate", "value_learning_rate", "max_kl", "anneal_lr", "clip_grad_norm"}
ARGS_DOC = re.compile(r'^    """.*"""$')
# Shared Args of the value fit whose help differs: PPO's policy update uses them too, TRPO's one
# step does not.
VALUE_FIT_FIELDS = {"update_epochs", "num_minibatches", "adam_eps"}


POLICY_UPDATE = (
    r"# ==== Policy update",
    r"# ==== Logging",
)  # the section, by its banner and the next


def lines(name):
    return (ROOT / f"{name}.py").read_text().splitlines()


def docstring_end(text):
    return next(i for i, line in enumerate(text) if i > 0 and line.endswith('"""'))


def banners(text):
    """The section titles, in order: each section opens with one line `# ==== Title ====...`."""
    return [m[1] for line in text if (m := re.fullmatch(r"\s*# ==== (.+?) =+", line))]


def region(text, start_pattern, end_pattern):
    start = next(i for i, line in enumerate(text) if re.search(start_pattern, line))
    end = next(i for i in range(start + 1, len(text)) if re.search(end_pattern, text[i]))
    return range(start, end)


def hunks(a, b):
    """(a_lines, b_lines, a_range, b_range) for each change between two files."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            yield a[i1:i2], b[j1:j2], range(i1, i2), range(j1, j2)


def only_defaults_changed(old, new):
    fields = [ARGS_FIELD.match(line) for line in old + new]
    names = [m[1] if m else None for m in fields]
    return (
        len(old) == len(new)
        and names[: len(old)] == names[len(old) :]
        and set(names) <= CONFIG_FIELDS
    )


PAIRS_MINIMAL_FULL = [
    p for p in [("ppo_m", "ppo_continuous"), ("trpo", "trpo_plus")] if set(p) <= set(PRESENT)
]
PAIRS_PPO_TRPO = [
    p for p in [("ppo_continuous", "trpo_plus"), ("ppo_m", "trpo")] if set(p) <= set(PRESENT)
]


def test_same_banners_in_the_same_order():
    titles = {name: [b.split(":")[0].strip() for b in banners(lines(name))] for name in PRESENT}
    reference = titles[PRESENT[0]]
    # Args, then the training run top to bottom, then the helpers it calls, in the order it
    # meets them.
    assert reference[:3] == ["Args", "Setup", "Rollout"]
    assert reference[-3:] == ["Logging", "Save", "Helpers"]
    for name in PRESENT:
        assert titles[name] == reference, name


@pytest.mark.parametrize("minimal,full", PAIRS_MINIMAL_FULL)
def test_minimal_to_full_diff_is_only_the_optimizations(minimal, full):
    a, b = lines(minimal), lines(full)
    doc_a, doc_b = docstring_end(a), docstring_end(b)
    for old, new, range_a, range_b in hunks(a, b):
        if range_a.stop <= doc_a + 1 and range_b.stop <= doc_b + 1:
            continue  # the module docstring
        if only_defaults_changed(old, new):
            continue  # the released configuration of each variant
        text = "\n".join(old + new)
        if re.search(r"layer_init|out_gain|Optimization 3's|code-level optimizations", text):
            # Optimization 3's alternative (Xavier init, no output gain), and the Args comment.
            continue
        assert not old, f"{minimal} -> {full}: a hunk changes lines it should only add:\n{text}"
        assert any(name in text for name in OPTIMIZATION_NAMES), (
            f"{minimal} -> {full}: unexplained hunk:\n{text}"
        )
    source = "\n".join(a)
    for n in DROPPED:
        assert f"# Optimization {n} (" not in source, f"{minimal} carries Optimization {n}"
        assert f"# Optimization {n} (" in "\n".join(b), f"{full} lacks Optimization {n}"


def value_grad_clipping(text):
    """The line numbers of Optimization 9 in the value update (TRPO+ only); empty where none."""
    value_update = region(text, r"# ==== Value update", r"# ==== Policy update")
    tagged = [i for i in value_update if "# Optimization 9 (" in text[i]]
    if not tagged:
        return set()
    end = next(i for i in range(tagged[0], len(text)) if "clip_grad_norm_(critic" in text[i])
    return set(range(tagged[0], end + 1))


def test_both_pairs_add_the_same_optimization_lines():
    if len(PAIRS_MINIMAL_FULL) < 2:
        pytest.skip("needs all four scripts")
    added = {}
    for minimal, full in PAIRS_MINIMAL_FULL:
        a, b = lines(minimal), lines(full)
        skip = set(region(b, r"^class Args", r"^# ==== Setup")) | set(region(b, *POLICY_UPDATE))
        added[full] = {
            line.strip()
            for _, new, _, range_b in hunks(a, b)
            for line, i in zip(new, range_b, strict=True)
            if i not in skip
        } - {""}
        added[full] -= set(b[: docstring_end(b) + 1])
    # Optimization 9 clips a gradient step: PPO's policy step (as released), TRPO+'s value step
    # (its policy step is not a gradient step). So TRPO+'s value update carries the one block
    # that PPO's lacks.
    b = lines("trpo_plus")
    added["trpo_plus"] -= {b[i].strip() for i in value_grad_clipping(b)}
    # Outside Args and the policy-update section, everything else TRPO+ adds PPO adds too, and PPO
    # adds only one more thing: the annealing of the policy's learning rate (TRPO has none).
    assert added["trpo_plus"] <= added["ppo_continuous"], (
        added["trpo_plus"] - added["ppo_continuous"]
    )
    ppo_only = {
        line for line in added["ppo_continuous"] - added["trpo_plus"] if "actor" not in line
    }
    assert ppo_only == set(), ppo_only


@pytest.mark.parametrize("ppo,trpo", PAIRS_PPO_TRPO)
def test_ppo_to_trpo_diff_is_only_the_policy_step(ppo, trpo):
    allowed_words = (
        "actor_optimizer",
        "learning_rate",
        "max_kl",
        "fisher_fraction",
        "cg_iters",
        "cg_damping",
        "max_backtracks",
        "accept_ratio",
        # The sample-count check: a minibatch (PPO) or the batch (TRPO) of 2 samples or more, for
        # the advantages' std.
        "at most half of --num-steps",
        '("num_steps", lambda v: v > 1, "at least 2")',
    )
    texts = {ppo: lines(ppo), trpo: lines(trpo)}
    allowed = {}
    for name, text in texts.items():
        step = "PPO" if name == ppo else "TRPO"
        args = region(text, r"^class Args", r"^# ==== Setup")
        allowed[name] = set(range(docstring_end(text) + 1))
        allowed[name] |= set(
            region(text, rf"# --- {step} policy update ---", r"# --- derived after parsing")
        )
        helpers_start = r"^def clipped_surrogate_loss" if step == "PPO" else r"^def flat_grad"
        allowed[name] |= set(region(text, helpers_start, r"^def check_args|^# Optimization 1"))
        allowed[name] |= set(region(text, *POLICY_UPDATE))
        allowed[name] |= value_grad_clipping(
            text
        )  # see test_both_pairs_add_the_same_optimization_lines
        config = {i for i in args if (m := ARGS_FIELD.match(text[i])) and m[1] in CONFIG_FIELDS}
        allowed[name] |= config | {
            i + 1 for i in config if ARGS_DOC.match(text[i + 1])
        }  # and their docstrings
        value_fit = {
            i for i in args if (m := ARGS_FIELD.match(text[i])) and m[1] in VALUE_FIT_FIELDS
        }
        allowed[name] |= {i + 1 for i in value_fit if ARGS_DOC.match(text[i + 1])}
        allowed[name] |= {i for i in args if "# --- code-level optimizations" in text[i]}
    a, b = texts[ppo], texts[trpo]
    for old, new, range_a, range_b in hunks(a, b):
        for name, changed, where in ((ppo, old, range_a), (trpo, new, range_b)):
            for line, i in zip(changed, where, strict=True):
                if i in allowed[name] or any(word in line for word in allowed_words):
                    continue
                pytest.fail(
                    f"{ppo} -> {trpo}: line {i + 1} of {name}.py is outside the policy step: "
                    f"{line!r}"
                )
