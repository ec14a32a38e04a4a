"""Tests chosen so that a plausible wrong version of the algorithm fails them.

Each test says in its comment which wrong versions it tells apart from the right one: inputs where
the two agree (gamma = lambda, a ratio inside the clip range, a KL far from the bound) test nothing.
tests/mutants.py applies each of those wrong versions to a copy of a script and runs these tests.

The unit tests call the scripts' helpers on numbers worked out by hand. The run tests drive
`train(check_args(Args(...)))` in this process on a tiny deterministic environment (ChainEnv below),
whose every observation, reward and episode end is known in advance, and watch the helpers that
`train` calls by name (compute_gae, clipped_surrogate_loss, trpo_step, Critic, Actor, the Adam
optimizers) to check what the loop inside `train` passes them.
"""

import signal
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import FULL, PPO, PRESENT, TRPO, load, read_scalars, run_dirs

# ==== Unit tests ==================================================================================


@pytest.mark.parametrize("name", PRESENT)
def test_gae_uses_gamma_times_lambda_and_stops_at_every_episode_end(name):
    # gamma = 0.9 and lambda = 0.5, so that gamma * gamma (0.81), lambda * lambda (0.25) and
    # gamma * lambda (0.45) all differ. Five steps: step 1 is truncated by the time limit
    # (bootstrapped from V(final obs) = 10), step 3 terminates (no bootstrap), the rollout ends
    # after step 4 (bootstrapped from V(next obs) = 6).
    gae = load(name).compute_gae
    rewards = np.array([1.0, 2.0, 0.0, 4.0, 1.0])
    values = np.array([2.0, 3.0, 1.0, 5.0, 2.0])
    next_values = np.array([3.0, 10.0, 5.0, 7.0, 6.0])  # next_values[3] = 7 must not be used
    terminations = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    dones = np.array([0.0, 1.0, 0.0, 1.0, 0.0])
    # delta4 = 1 + 0.9 * 6 - 2 = 4.4                   A4 = 4.4
    # delta3 = 4 - 5 = -1 (terminal)                   A3 = -1 (the episode ended)
    # delta2 = 0 + 0.9 * 5 - 1 = 3.5                   A2 = 3.5 + 0.45 * -1 = 3.05
    # delta1 = 2 + 0.9 * 10 - 3 = 8 (truncated)        A1 = 8 (the episode ended)
    # delta0 = 1 + 0.9 * 3 - 2 = 1.7                   A0 = 1.7 + 0.45 * 8 = 5.3
    advantages = gae(rewards, values, next_values, terminations, dones, 0.9, 0.5)
    np.testing.assert_allclose(advantages, [5.3, 8.0, 3.05, -1.0, 4.4], rtol=1e-12)


@pytest.mark.parametrize("name", PPO)
def test_clipped_surrogate_gradient_in_all_four_sign_and_clip_quadrants(name):
    # eps = 0.2. The gradient of -mean(min(r A, clip(r) A)) in r_i is -A_i / n where the unclipped
    # term is the smaller, 0 where the clipped one is: the clip only ever removes an incentive.
    # A clip from above only (clamp(r, max=1 + eps)), from below only, or max in place of min
    # changes the gradient in at least one quadrant.
    loss = load(name).clipped_surrogate_loss
    ratio = torch.tensor([1.5, 0.5, 1.5, 0.5, 1.1, 0.9], dtype=torch.float64, requires_grad=True)
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0, 2.0, -2.0], dtype=torch.float64)
    value = loss(ratio, advantages, 0.2)
    value.backward()
    # r > 1 + eps, A > 0: clipped, 1.2 * 1 = 1.2, no gradient (no reward for going further)
    # r < 1 - eps, A > 0: unclipped, 0.5 * 1 = 0.5 (< 0.8), gradient -1/6
    # r > 1 + eps, A < 0: unclipped, 1.5 * -1 = -1.5 (< -1.2), gradient +1/6
    # r < 1 - eps, A < 0: clipped, 0.8 * -1 = -0.8 (< -0.5), no gradient
    # inside the range: 1.1 * 2 = 2.2 and 0.9 * -2 = -1.8, gradients -2/6 and +2/6
    assert value.item() == pytest.approx(-(1.2 + 0.5 - 1.5 - 0.8 + 2.2 - 1.8) / 6, rel=1e-12)
    expected = torch.tensor([0.0, -1.0, 1.0, 0.0, -2.0, 2.0], dtype=torch.float64) / 6
    torch.testing.assert_close(ratio.grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", FULL)
def test_clipped_value_loss_with_the_target_below_the_old_value(name):
    # Old value 0, target -1, clip 0.2: the clip matters when the new value moves down toward the
    # target. A clip from above only (clamp(v - v_old, max=eps)) lets the first sample's loss fall
    # to (-0.5 + 1)^2 = 0.25.
    loss = load(name).clipped_value_loss
    newvalue = torch.tensor([-0.5, 0.5, -0.1], dtype=torch.float64, requires_grad=True)
    oldvalue = torch.zeros(3, dtype=torch.float64)
    returns = -torch.ones(3, dtype=torch.float64)
    value = loss(newvalue, oldvalue, returns, 0.2)
    # 1: unclipped (-0.5 + 1)^2 = 0.25, clipped to -0.2: 0.64 -> 0.64, flat in the new value
    # 2: unclipped (0.5 + 1)^2 = 2.25, clipped to 0.2: 1.44 -> 2.25, gradient 2 * 1.5 / 3
    # 3: inside the range: (-0.1 + 1)^2 = 0.81, gradient 2 * 0.9 / 3
    assert value.item() == pytest.approx((0.64 + 2.25 + 0.81) / 3, rel=1e-12)
    value.backward()
    expected = torch.tensor([0.0, 1.0, 0.6], dtype=torch.float64)
    torch.testing.assert_close(newvalue.grad, expected, rtol=1e-12, atol=1e-15)


class Point(nn.Module):
    """A policy with one parameter vector: all the line search needs of an actor."""

    def __init__(self):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([0.3, -0.7], dtype=torch.float64))


def along_step(actor, full_step, table):
    """surrogate_and_kl for the line search: (surrogate, KL) read from `table` by the fraction of
    full_step the actor's parameters stand at (0 at the start)."""
    theta0 = actor.theta.detach().clone()

    def surrogate_and_kl():
        fraction = ((actor.theta.detach() - theta0) @ full_step / (full_step @ full_step)).item()
        return table[round(fraction, 9)]

    return theta0, surrogate_and_kl


def search(name, table, max_kl):
    line_search = load(name).line_search
    actor = Point()
    full_step = torch.tensor([1.0, 2.0], dtype=torch.float64)
    theta0, surrogate_and_kl = along_step(actor, full_step, table)
    args = SimpleNamespace(max_kl=max_kl, max_backtracks=10, accept_ratio=0.1)
    result = line_search(actor, surrogate_and_kl, full_step, 1.0, args)  # expected improvement 1
    return result, actor.theta.detach() - theta0, full_step


@pytest.mark.parametrize("name", TRPO)
def test_line_search_rejects_a_step_whose_gain_is_below_the_accept_ratio_of_its_forecast(name):
    # The linear model forecasts a gain of 1 for the full step, fraction * 1 for a shorter one.
    # Full step: gain 0.05, a ratio of 0.05 < 0.1: rejected though the surrogate rose.
    # Half step: gain 0.075, a ratio of 0.075 / 0.5 = 0.15: accepted.
    # Without the ratio test the full step is taken; with a ratio to the full step's forecast
    # (0.075 / 1 < 0.1) the half step is rejected too. The KL is far inside the bound throughout.
    table = {0.0: (0.0, 0.0), 1.0: (0.05, 0.001), 0.5: (0.075, 0.0003), 0.25: (0.2, 0.0001)}
    (accepted, steps, improvement, kl), moved, full_step = search(name, table, max_kl=0.01)
    assert accepted and steps == 2
    assert improvement == pytest.approx(0.075) and kl == pytest.approx(0.0003)
    torch.testing.assert_close(moved, 0.5 * full_step)


@pytest.mark.parametrize("name", TRPO)
def test_line_search_rejects_a_half_step_whose_kl_is_just_above_the_bound(name):
    # delta = 0.01. The surrogate rises as its forecast (ratio 1) at every fraction; the KL of the
    # full step is 4 delta, of the half step 1.05 delta, of the quarter step 0.26 delta. Only the
    # quarter step is within the bound; a bound loosened to 1.1 delta or 2 delta takes the half.
    table = {0.0: (0.0, 0.0), 1.0: (1.0, 0.04), 0.5: (0.5, 0.0105), 0.25: (0.25, 0.0026)}
    (accepted, steps, improvement, kl), moved, full_step = search(name, table, max_kl=0.01)
    assert accepted and steps == 3
    assert improvement == pytest.approx(0.25) and kl == pytest.approx(0.0026)
    torch.testing.assert_close(moved, 0.25 * full_step)


# ==== Run tests: train() on a tiny environment whose every step is known ==========================
CHAIN = "ChainTest-v0"
TIME_LIMIT = 5


class ChainEnv(gym.Env):
    """Observation [k, 10 + e] at step k of episode e, whatever the action; reward 1 + k / 2 for the
    step that reaches k. Odd episodes terminate at k = 2, even ones are cut by the time limit at
    k = 5. Every observation of a rollout differs, so a wrong one cannot pass for the right one."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    actions = []  # every action any ChainEnv was given; a test that reads it clears it first

    def __init__(self):
        self.episode, self.k = -1, 0

    def obs(self):
        return np.array([self.k, 10 + self.episode], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.k = self.episode + 1, 0
        return self.obs(), {}

    def step(self, action):
        ChainEnv.actions.append(np.array(action, dtype=np.float64))
        self.k += 1
        terminated = self.episode % 2 == 1 and self.k == 2
        return self.obs(), 1.0 + self.k / 2, terminated, False, {}


if CHAIN not in gym.registry:
    gym.register(CHAIN, entry_point=ChainEnv, max_episode_steps=TIME_LIMIT)


def chain_rollout(num_steps):
    """What ChainEnv gives over the first num_steps steps from its first reset, by hand: the
    observation before each step, the reward, the termination and truncation, the final observation
    of a truncated step, and every observation the normalizer should see (the first reset's, then
    the one after each step, which after an episode end is the next reset's)."""
    obs, rewards, terms, truncs, finals, seen = [], [], [], [], {}, [[0, 10]]
    episode, k = 0, 0
    for t in range(num_steps):
        obs.append([k, 10 + episode])
        k += 1
        rewards.append(1.0 + k / 2)
        term = episode % 2 == 1 and k == 2
        trunc = not term and k == TIME_LIMIT
        terms.append(term)
        truncs.append(trunc)
        if trunc:
            finals[t] = [k, 10 + episode]
        if term or trunc:
            episode, k = episode + 1, 0
        seen.append([k, 10 + episode])
    return SimpleNamespace(
        obs=np.array(obs, dtype=np.float64),
        rewards=np.array(rewards),
        terminations=np.array(terms, dtype=float),
        truncations=np.array(truncs, dtype=float),
        finals=finals,
        seen=np.array(seen, dtype=np.float64),
    )


def plain_args(module, **overrides):
    """Args for a 16-step ChainTest run: no observation normalization or clipping (so the network
    sees the raw observation), one iteration unless overridden."""
    fields = dict(
        env_id=CHAIN,
        total_timesteps=16,
        num_steps=16,
        num_minibatches=4,
        update_epochs=2,
        norm_obs=False,
        clip_obs=False,
    )
    fields.update(overrides)
    args = module.Args()
    for key, value in fields.items():
        if key == "clip_obs" and not hasattr(args, key):  # the minimal variants never clip obs
            continue
        assert hasattr(args, key), f"{module.__name__} has no --{key}"
        setattr(args, key, value)
    return module.check_args(args)


def train_in_process(module, args, cwd, monkeypatch):
    """Runs train(args) in cwd in this process; puts back the signal handlers it installs."""
    monkeypatch.chdir(cwd)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        module.train(args)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)


class Spy:
    """Wraps the helpers train() calls by name, keeps what they were given and what they gave."""

    def __init__(self, module, monkeypatch, record_targets=False):
        self.gae_calls, self.critics, self.actors, self.critic_inputs = [], [], [], []
        self.surrogate_calls, self.trpo_calls, self.targets = [], [], []
        real_gae = module.compute_gae

        def compute_gae(rewards, values, next_values, terminations, dones, gamma, gae_lambda):
            advantages = real_gae(
                rewards, values, next_values, terminations, dones, gamma, gae_lambda
            )
            critic = self.critics[0]
            snapshot = {k: v.clone() for k, v in critic.state_dict().items()}
            self.gae_calls.append(
                SimpleNamespace(
                    rewards=np.array(rewards, dtype=np.float64),
                    values=np.array(values),
                    next_values=np.array(next_values),
                    terminations=np.array(terminations),
                    dones=np.array(dones),
                    advantages=np.array(advantages),
                    # V as the critic stands when GAE is computed, on any observation
                    V=lambda x, s=snapshot: torch.func.functional_call(
                        critic, s, (torch.as_tensor(np.asarray(x), dtype=torch.float32),)
                    ).numpy(),
                )
            )
            return advantages

        class Critic(module.Critic):
            def __init__(critic, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.critics.append(critic)
                critic.initial = [p.detach().clone() for p in critic.parameters()]

            def forward(critic, obs):
                self.critic_inputs.append(obs.detach().clone())
                value = super().forward(obs)
                if record_targets and value.requires_grad:  # a value update: keep its targets
                    n = len(obs)
                    keep = (obs.detach().clone(), value.detach().clone())
                    value.register_hook(
                        lambda g, k=keep: self.targets.append((k[0], (k[1] - g * n / 2).numpy()))
                    )
                return value

        class Actor(module.Actor):
            def __init__(actor, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.actors.append(actor)
                actor.initial = [p.detach().clone() for p in actor.parameters()]

        monkeypatch.setattr(module, "compute_gae", compute_gae)
        monkeypatch.setattr(module, "Critic", Critic)
        monkeypatch.setattr(module, "Actor", Actor)
        if hasattr(module, "clipped_surrogate_loss"):
            real_loss = module.clipped_surrogate_loss

            def clipped_surrogate_loss(ratio, advantages, clip_coef):
                self.surrogate_calls.append((ratio.detach().clone(), advantages.clone()))
                return real_loss(ratio, advantages, clip_coef)

            monkeypatch.setattr(module, "clipped_surrogate_loss", clipped_surrogate_loss)
        if hasattr(module, "trpo_step"):
            real_step = module.trpo_step

            def trpo_step(actor, obs, actions, old_logprobs, advantages, args):
                self.trpo_calls.append(advantages.clone())
                return real_step(actor, obs, actions, old_logprobs, advantages, args)

            monkeypatch.setattr(module, "trpo_step", trpo_step)


def initial_params(net) -> dict:
    """A Spy's Actor or Critic parameters as they were built, by name, for functional_call."""
    names = [n for n, _ in net.named_parameters()]
    return dict(zip(names, net.initial, strict=True))


def moved(net) -> float:
    """The largest change of any parameter of a Spy's Actor or Critic since it was built."""
    now = [p.detach() for p in net.parameters()]
    return max((a - b).abs().max().item() for a, b in zip(now, net.initial, strict=True))


@pytest.mark.parametrize("name", PRESENT)
def test_truncated_step_is_bootstrapped_from_its_final_observation(name, tmp_path, monkeypatch):
    # Steps 4 and 11 are cut by the time limit; GAE must bootstrap them from V(final observation),
    # [5, 10] and [5, 12], not from V of the observation before the step ([4, 10], [4, 12]) nor of
    # the next episode's first; steps 6 and 13 terminate (no bootstrap); the rollout ends after
    # step 15 and is bootstrapped from V([2, 14]). Raw observations (no normalization), so V of
    # each is the critic's output on it.
    module = load(name)
    spy = Spy(module, monkeypatch)
    args = plain_args(module, time_limit_as_termination=False)
    train_in_process(module, args, tmp_path, monkeypatch)
    chain = chain_rollout(16)
    (call,) = spy.gae_calls
    assert list(chain.finals) == [4, 11]
    np.testing.assert_array_equal(call.terminations, chain.terminations)
    np.testing.assert_array_equal(call.dones, np.maximum(chain.terminations, chain.truncations))
    np.testing.assert_allclose(call.values, call.V(chain.obs), rtol=1e-5, atol=1e-6)
    expected_next = call.V(np.concatenate([chain.obs[1:], [[2, 14]]]))
    for t, final in chain.finals.items():
        expected_next[t] = call.V([final])[0]
    live = chain.terminations == 0  # after a termination the next value is never used
    np.testing.assert_allclose(call.next_values[live], expected_next[live], rtol=1e-5, atol=1e-6)
    # And the advantage of a truncated step is its own one-step TD error, bootstrapped (the
    # rewards as GAE got them: the full variants scale them).
    gamma = args.gamma
    for t, final in chain.finals.items():
        delta = call.rewards[t] + gamma * call.V([final])[0] - call.V(chain.obs[t : t + 1])[0]
        assert call.advantages[t] == pytest.approx(delta, rel=1e-5)


@pytest.mark.parametrize("name", PRESENT)
def test_observations_are_normalized_by_statistics_that_include_them(name, tmp_path, monkeypatch):
    # The normalizer is updated with each observation before that observation is normalized
    # (so the first one becomes 0). Normalizing first and updating after, updating once per batch,
    # or letting the statistics see a truncated episode's final observation all change what the
    # critic is given. Statistics by hand: the sample mean and std (n - 1) of every observation
    # seen so far; one sample: var = mean**2.
    module = load(name)
    spy = Spy(module, monkeypatch)
    args = plain_args(module, norm_obs=True)
    train_in_process(module, args, tmp_path, monkeypatch)
    chain = chain_rollout(16)

    def normalized(x, history):
        mean = history.mean(0)
        std = history.std(0, ddof=1) if len(history) > 1 else np.abs(mean)
        return (x - mean) / (std + 1e-8)

    # seen[t] is the observation before step t (seen[0] the first reset's).
    expected = np.array([normalized(chain.seen[t], chain.seen[: t + 1]) for t in range(16)])
    np.testing.assert_allclose(chain.seen[:16], chain.obs)
    batch = spy.critic_inputs[0].numpy()  # the critic's first call: V on the whole batch
    np.testing.assert_allclose(batch, expected, rtol=1e-5, atol=1e-6)
    # A truncated step's final observation is normalized by the statistics of its time, which
    # have not seen it (nor the reset that follows).
    (call,) = spy.gae_calls
    for t, final in chain.finals.items():
        final_normalized = normalized(np.array(final, float), chain.seen[: t + 1])
        assert call.next_values[t] == pytest.approx(call.V([final_normalized])[0], rel=1e-5)


@pytest.mark.parametrize("name", FULL)
def test_reward_scaler_restarts_its_return_at_time_limit_ends_too(name, tmp_path, monkeypatch):
    # Optimization 2 in the loop: every reward goes through the scaler with done = termination or
    # truncation, then is clipped (bound 1.2 here, which clips the second scaled reward, 1.43, and
    # every raw reward: scaling a clipped reward gives other numbers). A scaler told only of
    # terminations keeps the return running across a time-limit cut (from step 5 on). The scaler
    # itself is checked against numbers by hand in test_units.py.
    module = load(name)
    spy = Spy(module, monkeypatch)
    args = plain_args(module, scale_reward=True, clip_reward=True, clip_reward_bound=1.2)
    train_in_process(module, args, tmp_path, monkeypatch)
    chain = chain_rollout(16)
    scaler = module.RewardScaler(args.gamma)
    dones = np.maximum(chain.terminations, chain.truncations)
    scaled = [scaler(r, bool(d)) for r, d in zip(chain.rewards, dones, strict=True)]
    expected = np.clip(scaled, -1.2, 1.2)
    (call,) = spy.gae_calls
    np.testing.assert_allclose(call.rewards, expected, rtol=1e-6)
    assert call.rewards.max() == pytest.approx(1.2)  # the clip was active


@pytest.mark.parametrize("name", PPO)
def test_ppo_normalizes_advantages_per_minibatch(name, tmp_path, monkeypatch):
    # Each minibatch's advantages are normalized on their own: mean 0, std 1 in every call of the
    # loss (normalizing over the whole batch, or not at all, leaves minibatch means away from 0).
    # In the first minibatch of an iteration the policy is the one that collected the batch, so
    # every ratio is 1.
    module = load(name)
    spy = Spy(module, monkeypatch)
    args = plain_args(module, total_timesteps=32)  # two iterations
    train_in_process(module, args, tmp_path, monkeypatch)
    calls = spy.surrogate_calls
    per_iteration = args.update_epochs * args.num_minibatches
    assert len(calls) == 2 * per_iteration
    gae = np.concatenate([call.advantages for call in spy.gae_calls])
    for i, (ratio, advantages) in enumerate(calls):
        assert len(advantages) == args.minibatch_size
        assert advantages.mean().item() == pytest.approx(0.0, abs=1e-6)
        assert advantages.std().item() == pytest.approx(1.0, rel=1e-5)
        if i % per_iteration == 0:
            torch.testing.assert_close(ratio, torch.ones_like(ratio))
    # the minibatches hold different samples: not all normalized to the same four numbers
    assert len({tuple(np.round(a.numpy(), 4)) for _, a in calls}) > 1
    assert gae.std() > 0


@pytest.mark.parametrize("name", TRPO)
def test_trpo_normalizes_advantages_over_the_whole_batch(name, tmp_path, monkeypatch):
    # The TRPO step gets (A - mean(A)) / std(A) over the batch, A from GAE, in the batch's order.
    module = load(name)
    spy = Spy(module, monkeypatch)
    args = plain_args(module)
    train_in_process(module, args, tmp_path, monkeypatch)
    (advantages,) = spy.trpo_calls
    (call,) = spy.gae_calls
    gae = call.advantages
    expected = (gae - gae.mean()) / (gae.std(ddof=1) + 1e-8)
    np.testing.assert_allclose(advantages.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.fixture
def recorded_lrs(monkeypatch):
    """Every Adam optimizer built while the test runs, with the learning rate of each step()."""
    optimizers = []

    class RecordingAdam(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.lrs = []
            optimizers.append(self)

        def step(self, *args, **kwargs):
            self.lrs.append(self.param_groups[0]["lr"])
            return super().step(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    return optimizers


@pytest.mark.parametrize("name", PRESENT)
def test_adam_learning_rates_over_a_four_iteration_run(name, tmp_path, monkeypatch, recorded_lrs):
    # Annealing (Optimization 4): iteration k of N uses lr * (1 - (k - 1) / N): the full rate
    # first, lr / N last. The logged charts/learning_rate (the policy's Adam in PPO, the value
    # net's in TRPO) says so, and so does every step of both optimizers. The minimal variants do
    # not anneal: the same rate throughout.
    module = load(name)
    anneal = hasattr(module.Args(), "anneal_lr")
    args = plain_args(module, total_timesteps=64, **({"anneal_lr": True} if anneal else {}))
    assert args.num_iterations == 4
    train_in_process(module, args, tmp_path, monkeypatch)
    fractions = [1.0, 0.75, 0.5, 0.25] if anneal else [1.0] * 4
    policy_lr = getattr(args, "learning_rate", None)  # TRPO has none
    logged_lr = policy_lr if policy_lr is not None else args.value_learning_rate
    logged = read_scalars(run_dirs(tmp_path)[0])["charts/learning_rate"]
    assert [step for step, _ in logged] == [16, 32, 48, 64]
    np.testing.assert_allclose([v for _, v in logged], np.multiply(fractions, logged_lr), rtol=1e-6)
    steps_per_iteration = args.update_epochs * args.num_minibatches
    initial = {opt.defaults["lr"]: opt for opt in recorded_lrs}
    assert len(recorded_lrs) == (2 if policy_lr is not None else 1) == len(initial)
    for lr, opt in initial.items():
        assert lr in (policy_lr, args.value_learning_rate)
        assert opt.defaults["eps"] == args.adam_eps == 1e-5
        expected = np.repeat(np.multiply(fractions, lr), steps_per_iteration)
        np.testing.assert_allclose(opt.lrs, expected, rtol=1e-12)


@pytest.mark.parametrize("name", PPO)
def test_entropy_bonus_raises_the_policy_std(name, tmp_path, monkeypatch):
    # The loss is pg_loss - ent_coef * entropy: a large positive coefficient must widen the policy
    # (every log-std up), a negative one narrow it. A flipped sign does the opposite.
    for ent_coef, sign in ((5.0, 1.0), (-5.0, -1.0)):
        module = load(name)
        spy = Spy(module, monkeypatch)
        (tmp_path / str(sign)).mkdir()
        args = plain_args(module, ent_coef=ent_coef)
        train_in_process(module, args, tmp_path / str(sign), monkeypatch)
        (actor,) = spy.actors
        assert torch.all(sign * actor.logstd.detach() > 0.5 * args.learning_rate), actor.logstd


@pytest.mark.parametrize("name", FULL)
def test_gradient_clipping_bounds_the_update(name, tmp_path, monkeypatch):
    # Optimization 9 clips the policy's gradient norm in PPO, the value net's in TRPO+. With a
    # bound of 1e-9, far below Adam's eps (1e-5), each Adam step moves a parameter by at most
    # about lr * 1e-9 / 1e-5: the clipped network barely moves; without the clip it moves by
    # about lr per step.
    changes = {}
    for clip in (True, False):
        module = load(name)
        spy = Spy(module, monkeypatch)
        (tmp_path / str(clip)).mkdir()
        args = plain_args(module, clip_grad_norm=clip, max_grad_norm=1e-9)
        train_in_process(module, args, tmp_path / str(clip), monkeypatch)
        net = spy.actors[0] if name.startswith("ppo") else spy.critics[0]
        changes[clip] = moved(net)
    assert changes[True] < 1e-6 < 1e-4 < changes[False], changes


@pytest.mark.parametrize("name", PRESENT)
def test_value_targets_are_gae_advantages_plus_old_values(name, tmp_path, monkeypatch):
    # The value net regresses on V_old + A (the GAE lambda-return), the same target in every
    # epoch: advantages alone, normalized advantages, or values of the net being updated give
    # other targets. The target of each sample is read off the gradient of the squared error
    # through the critic's output: d/dv mean((v - target)^2) = 2 (v - target) / n.
    module = load(name)
    spy = Spy(module, monkeypatch, record_targets=True)
    args = plain_args(module)
    train_in_process(module, args, tmp_path, monkeypatch)
    (call,) = spy.gae_calls
    batch = spy.critic_inputs[0]
    expected = call.advantages + call.values
    assert len(spy.targets) == args.update_epochs * args.num_minibatches
    for obs, target in spy.targets:
        assert len(obs) == args.minibatch_size
        # each minibatch row is a row of the batch (the chain's observations are all distinct)
        rows = [int(torch.nonzero((batch == row).all(1))[0, 0]) for row in obs]
        np.testing.assert_allclose(target, expected[rows], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", PRESENT)
def test_episodic_return_logs_the_raw_reward(name, tmp_path, monkeypatch):
    # charts/episodic_return sums the environment's own rewards (1 + k / 2 at the step reaching k),
    # never the scaled or clipped ones the full variants train on; each episode is logged at the
    # step that ends it, with its length.
    module = load(name)
    args = plain_args(module)
    train_in_process(module, args, tmp_path, monkeypatch)
    scalars = read_scalars(run_dirs(tmp_path)[0])
    # episodes end after steps 5 (time limit), 7 (termination), 12, 14 (global steps from 1)
    assert scalars["charts/episodic_length"] == [(5, 5.0), (7, 2.0), (12, 5.0), (14, 2.0)]
    full, short = 1.5 + 2 + 2.5 + 3 + 3.5, 1.5 + 2
    assert scalars["charts/episodic_return"] == [(5, full), (7, short), (12, full), (14, short)]


@pytest.mark.parametrize("name", PRESENT)
def test_logged_mean_kl_is_kl_old_to_new_on_the_batch(name, tmp_path, monkeypatch):
    # trust_region/mean_kl (the paper's section 5 measurement) is the mean over the batch's states
    # of KL(pi_old || pi_new), pi_old the policy that collected the batch. A large step (PPO: a
    # learning rate of 0.01; TRPO: its own bound) makes KL(new || old) differ from it by percents.
    module = load(name)
    spy = Spy(module, monkeypatch)
    step = {"learning_rate": 0.01} if name.startswith("ppo") else {}
    args = plain_args(module, **step)
    train_in_process(module, args, tmp_path, monkeypatch)
    (actor,) = spy.actors
    obs = spy.critic_inputs[0].double()
    names = [n for n, _ in actor.named_parameters()]
    old = dict(zip(names, (p.double() for p in actor.initial), strict=True))
    new = {n: p.detach().double() for n, p in actor.named_parameters()}

    def policy(params):
        net = {k.removeprefix("mean."): v for k, v in params.items() if k.startswith("mean.")}
        mean = torch.func.functional_call(actor.mean, net, (obs,))
        return torch.distributions.Normal(mean, params["logstd"].exp())

    expected = torch.distributions.kl_divergence(policy(old), policy(new)).sum(-1).mean().item()
    reverse = torch.distributions.kl_divergence(policy(new), policy(old)).sum(-1).mean().item()
    ((_, logged),) = read_scalars(run_dirs(tmp_path)[0])["trust_region/mean_kl"]
    assert abs(reverse - expected) > 0.01 * expected  # the test can tell them apart
    assert logged == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("name", PRESENT)
def test_rollout_actions_are_samples_of_the_policy(name, tmp_path, monkeypatch):
    # The environment gets a draw of N(mean(s), exp(logstd)^2) from the policy that collected the
    # batch, unclipped. Standardized by that policy, the first iteration's 64 actions look like
    # standard normal draws; the mean alone, or a draw with std = logstd (0 at the start: no
    # exploration), do not.
    module = load(name)
    spy = Spy(module, monkeypatch)
    ChainEnv.actions.clear()
    args = plain_args(module, total_timesteps=64, num_steps=64)
    train_in_process(module, args, tmp_path, monkeypatch)
    (actor,) = spy.actors
    params = initial_params(actor)
    net = {k.removeprefix("mean."): v for k, v in params.items() if k.startswith("mean.")}
    with torch.no_grad():
        mean = torch.func.functional_call(actor.mean, net, (spy.critic_inputs[0],))
    z = (np.array(ChainEnv.actions) - mean.numpy()) / params["logstd"].exp().numpy()
    assert z.shape == (64, 1)
    assert abs(z.mean()) < 0.5 and 0.7 < z.std(ddof=1) < 1.3, (z.mean(), z.std(ddof=1))


class TinyGaussian(nn.Module):
    """The scripts' Actor interface (a `mean` net and a `logstd`), 22 parameters, float64."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.mean = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
        self.logstd = nn.Parameter(0.1 * torch.randn(2, dtype=torch.float64))


@pytest.mark.parametrize("name", TRPO)
def test_trpo_step_forecasts_the_gain_of_the_step_it_takes(name):
    # expected_improvement is the linear model's gain g . s of the full step s that the line
    # search tries first (g: the surrogate's gradient at the old policy), not of the unscaled CG
    # direction: the accept-ratio test compares the actual gain with it. With a small bound the
    # surrogate is close to linear, so the full step is taken and gains about what was forecast.
    module = load(name)
    actor = TinyGaussian()
    generator = torch.Generator().manual_seed(2)
    obs = torch.randn(512, 3, dtype=torch.float64, generator=generator)
    params = list(actor.parameters())
    with torch.no_grad():
        policy = torch.distributions.Normal(actor.mean(obs), actor.logstd.exp())
        actions = policy.sample()
        old_logprobs = policy.log_prob(actions).sum(-1)
    advantages = actions[:, 0] - actions[:, 1]
    advantages = (advantages - advantages.mean()) / advantages.std()
    new_policy = torch.distributions.Normal(actor.mean(obs), actor.logstd.exp())
    ratio = (new_policy.log_prob(actions).sum(-1) - old_logprobs).exp()
    g = torch.cat([x.reshape(-1) for x in torch.autograd.grad((ratio * advantages).mean(), params)])
    theta0 = nn.utils.parameters_to_vector(params).detach().clone()
    args = module.Args(max_kl=0.01, fisher_fraction=1.0)
    stats = module.trpo_step(actor, obs, actions, old_logprobs, advantages, args)
    step = nn.utils.parameters_to_vector(params).detach() - theta0
    assert stats["accepted"] and stats["line_search_steps"] == 1
    assert stats["expected_improvement"] == pytest.approx((g @ step).item(), rel=1e-6)
    assert 0.5 < stats["actual_improvement"] / stats["expected_improvement"] < 1.5
