"""Unit tests of the pieces every variant shares, with numbers worked out by hand."""

import numpy as np
import pytest
import torch
from conftest import FULL, PPO, PRESENT, load


@pytest.mark.parametrize("name", PRESENT)
def test_gae_by_hand_with_truncation_bootstrap(name):
    # Three steps, gamma = lambda = 0.5 so that the arithmetic is easy by hand.
    # Step 1 ends an episode by the time limit: it is bootstrapped from V(final obs) = 4, and the
    # recursion stops there. Step 2 starts the next episode; the rollout ends after it, bootstrapped
    # from V(next obs) = 2.
    gae = load(name).compute_gae
    rewards = np.array([1.0, 2.0, 3.0])
    values = np.array([0.5, 1.0, 1.5])
    next_values = np.array([1.0, 4.0, 2.0])
    terminations = np.zeros(3)
    dones = np.array([0.0, 1.0, 0.0])
    # delta2 = 3 + 0.5*2 - 1.5 = 2.5;  A2 = 2.5
    # delta1 = 2 + 0.5*4 - 1.0 = 3.0;  A1 = 3.0 (the episode ended: nothing from A2)
    # delta0 = 1 + 0.5*1 - 0.5 = 1.0;  A0 = 1.0 + 0.25 * 3.0 = 1.75
    advantages = gae(rewards, values, next_values, terminations, dones, 0.5, 0.5)
    np.testing.assert_allclose(advantages, [1.75, 3.0, 2.5])

    # The same step 1 as a true termination: no bootstrap, delta1 = 2 - 1 = 1, A0 = 1 + 0.25 = 1.25.
    terminations = np.array([0.0, 1.0, 0.0])
    advantages = gae(rewards, values, next_values, terminations, dones, 0.5, 0.5)
    np.testing.assert_allclose(advantages, [1.25, 1.0, 2.5])


@pytest.mark.parametrize("name", PRESENT)
def test_running_mean_std_matches_numpy_sample_by_sample(name):
    RunningMeanStd = load(name).RunningMeanStd
    rng = np.random.default_rng(1)
    rms = RunningMeanStd((3,))
    data = rng.normal(3.0, 2.0, size=(200, 3))
    rms.update(data[0])
    # A single sample has no sample variance; the released code uses mean**2 then.
    np.testing.assert_allclose(rms.var, data[0] ** 2)
    for n in range(2, len(data) + 1):
        rms.update(data[n - 1])
        assert rms.count == n
        np.testing.assert_allclose(rms.mean, data[:n].mean(0), rtol=1e-12)
        np.testing.assert_allclose(rms.var, data[:n].var(0, ddof=1), rtol=1e-12)
    scalar = RunningMeanStd()  # the reward scaler's: one number at a time
    for x in (1.0, 1.5, 1.75):
        scalar.update(x)
    np.testing.assert_allclose(scalar.var, np.var([1.0, 1.5, 1.75], ddof=1), rtol=1e-12)


@pytest.mark.parametrize("name", FULL)
def test_reward_scaler_divides_by_return_std_and_resets_at_episode_end(name):
    scaler = load(name).RewardScaler(gamma=0.5)
    # Step 0: R = 1; a single sample, var = mean**2 = 1, so the reward is divided by 1.
    np.testing.assert_allclose(scaler(1.0, False), 1.0)
    # Step 1: R = 0.5 * 1 + 1 = 1.5; returns {1, 1.5}: sample std = sqrt(0.125) = 0.353553.
    np.testing.assert_allclose(scaler(1.0, False), 1.0 / np.sqrt(0.125))
    # Step 2 ends the episode: R = 0.5 * 1.5 + 1 = 1.75; returns {1, 1.5, 1.75}: mean 17/12,
    # var 7/48.
    np.testing.assert_allclose(scaler(1.0, True), 1.0 / np.sqrt(7 / 48))
    assert scaler.ret == 0.0
    # Step 3 starts a new episode: R = 2 (not 0.5 * 1.75 + 2), so the returns seen are
    # {1, 1.5, 1.75, 2}.
    scaled = scaler(2.0, False)
    assert scaler.ret == 2.0
    np.testing.assert_allclose(scaler.ret_rms.mean, 1.5625)
    np.testing.assert_allclose(scaled, 2.0 / np.std([1, 1.5, 1.75, 2], ddof=1))
    # No centring: a negative reward stays negative.
    assert scaler(-1.0, False) < 0


@pytest.mark.parametrize("name", FULL)
def test_reward_scaler_by_rewards_scales_about_the_running_mean(name):
    # PPO-NoClip's form: r' = (r - mean) / (std + 1e-8) + mean over the rewards seen,
    # episodes ignored.
    scaler = load(name).RewardScaler(gamma=0.5, by="rewards")
    # Step 0: one sample, mean 2, var = mean**2 = 4: (2 - 2) / 2 + 2 = 2, the reward itself.
    np.testing.assert_allclose(scaler(2.0, True), 2.0)
    # Step 1: rewards {2, 4}: mean 3, sample std sqrt(2): (4 - 3) / sqrt(2) + 3.
    np.testing.assert_allclose(scaler(4.0, False), 1 / np.sqrt(2) + 3, rtol=1e-7)
    # Step 2: rewards {2, 4, 0}: mean 2, sample std 2: (0 - 2) / 2 + 2 = 1. The done of step 0
    # reset nothing.
    np.testing.assert_allclose(scaler(0.0, False), 1.0, rtol=1e-7)


@pytest.mark.parametrize("name", PPO)
def test_no_clip_surrogate_is_the_plain_surrogate(name):
    # --no-clip-surrogate passes an infinite epsilon: the loss is -mean(ratio * A), whatever
    # the ratio.
    loss = load(name).clipped_surrogate_loss
    ratio = torch.tensor([0.5, 1.0, 1.5, 3.0])
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    # -(0.5 - 1 + 1.5 - 3) / 4 = 0.5
    assert loss(ratio, advantages, float("inf")).item() == pytest.approx(0.5)


@pytest.mark.parametrize("name", PPO)
def test_clipped_surrogate_by_hand(name):
    loss = load(name).clipped_surrogate_loss
    ratio = torch.tensor([0.5, 1.0, 1.5, 1.5])
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    # min(r A, clip(r, 0.8, 1.2) A): 0.5 (r < 1 - eps, A > 0: unclipped is smaller), -1, 1.2
    # (clipped), -1.5 (A < 0: the unclipped, more pessimistic term) -> mean -0.2, negated -> 0.2.
    assert loss(ratio, advantages, 0.2).item() == pytest.approx(0.2)


@pytest.mark.parametrize("name", FULL)
def test_clipped_value_loss_by_hand(name):
    loss = load(name).clipped_value_loss
    newvalue = torch.tensor([0.5, 0.1, -0.5])
    oldvalue = torch.zeros(3)
    returns = torch.tensor([1.0, 1.0, 1.0])
    # 1: unclipped (0.5 - 1)^2 = 0.25, clipped to 0.2: (0.2 - 1)^2 = 0.64 -> 0.64
    # 2: inside the range: (0.1 - 1)^2 = 0.81 -> 0.81
    # 3: unclipped (-0.5 - 1)^2 = 2.25, clipped to -0.2: 1.44 -> 2.25
    assert loss(newvalue, oldvalue, returns, 0.2).item() == pytest.approx((0.64 + 0.81 + 2.25) / 3)


@pytest.mark.parametrize("name", FULL)
def test_orthogonal_init_gains(name):
    module = load(name)
    args = module.Args()
    assert args.ortho_init
    torch.manual_seed(0)
    actor, critic = module.Actor(11, 3, args), module.Critic(11, args)
    hidden, output = actor.mean[2].weight, actor.mean[4].weight
    # Orthogonal with gain g: W W^T = g^2 I (rows orthonormal, scaled) in wide-to-narrow layers.
    torch.testing.assert_close(hidden @ hidden.T, 2.0 * torch.eye(64), atol=1e-5, rtol=0)
    torch.testing.assert_close(output @ output.T, 0.01**2 * torch.eye(3), atol=1e-7, rtol=0)
    value_output = critic.net[4].weight
    torch.testing.assert_close(value_output @ value_output.T, torch.eye(1), atol=1e-5, rtol=0)
    for layer in (*actor.mean[::2], *critic.net[::2]):
        assert torch.all(layer.bias == 0)
    assert torch.all(actor.logstd == 0)


@pytest.mark.parametrize("name", PRESENT)
def test_xavier_init_without_output_scaling(name):
    module = load(name)
    args = module.Args()
    if hasattr(args, "ortho_init"):
        args.ortho_init = False
    torch.manual_seed(0)
    actor = module.Actor(11, 3, args)
    output = actor.mean[4].weight
    bound = np.sqrt(6.0 / (64 + 3))  # xavier_uniform: U(-b, b), b = sqrt(6 / (fan_in + fan_out))
    assert output.abs().max() <= bound
    # The std of U(-b, b) is b / sqrt(3): no 0.01 scaling.
    assert output.std() > 0.5 * bound / np.sqrt(3)
    assert torch.all(actor.mean[0].bias == 0)


@pytest.mark.parametrize("name", PRESENT)
def test_normalize_obs(name):
    module = load(name)
    args = module.Args()
    rms = module.RunningMeanStd((2,))
    for x in ([0.0, 10.0], [2.0, 10.0], [4.0, 10.0]):  # mean (2, 10), sample std (2, 0)
        rms.update(np.array(x))
    obs = module.normalize_obs(np.array([4.0, 1000.0]), rms, args)
    # The rollout stores it as is; the networks take torch.from_numpy of it.
    assert obs.dtype == np.float32
    assert obs[0].item() == pytest.approx(1.0)
    if getattr(args, "clip_obs", False):
        assert obs[1].item() == args.clip_obs_bound  # 990 / 1e-8 clipped to the bound
    else:
        assert obs[1].item() > 1e9  # the minimal variants do not clip


@pytest.mark.parametrize("name", PRESENT)
def test_gaussian_formulas_match_torch_distributions(name):
    # The scripts write the policy's log-likelihood, entropy and KL as formulas;
    # torch.distributions is the independent reference (float64, so that any difference is a
    # wrong formula, not rounding).
    module = load(name)
    gen = torch.Generator().manual_seed(0)
    mean_p, mean_q, actions = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    logstd_p, logstd_q = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    p = torch.distributions.Normal(mean_p, logstd_p.exp())
    q = torch.distributions.Normal(mean_q, logstd_q.exp())
    torch.testing.assert_close(
        module.gaussian_log_prob(mean_p, logstd_p, actions), p.log_prob(actions).sum(-1)
    )
    torch.testing.assert_close(module.gaussian_entropy(logstd_p), p.entropy()[0].sum())
    kl = module.gaussian_kl(mean_p, logstd_p, mean_q, logstd_q)
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(p, q).sum(-1))
    assert kl.shape == (5,) and (kl > 0).all()


def test_gaussian_log_prob_by_hand():
    # One dimension, mu = 1, sigma = e (logstd = 1), a = 1 + e: z = 1, so
    # log p = -1/2 - 1 - log(2 pi)/2 = -1.5 - 0.9189385 = -2.4189385.
    module = load(PRESENT[0])
    value = module.gaussian_log_prob(
        torch.tensor([[1.0]]), torch.tensor([1.0]), torch.tensor([[1.0 + np.e]])
    )
    assert value.item() == pytest.approx(-2.4189385, abs=1e-6)
