"""The TRPO step's pieces against exact answers: a linear solve, an explicit Hessian, a KL bound."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from conftest import TRPO, load
from torch.distributions import Normal, kl_divergence

pytestmark = pytest.mark.skipif(not TRPO, reason="no TRPO script yet")


class TinyActor(nn.Module):
    """The scripts' Actor interface (a `mean` net, `logstd`, forward -> Normal), 28 parameters."""

    def __init__(self):
        super().__init__()
        self.mean = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        self.logstd = nn.Parameter(0.1 * torch.randn(2))

    def forward(self, obs):
        return Normal(self.mean(obs), self.logstd.exp())


def tiny_actor(seed=0):
    torch.manual_seed(seed)
    return TinyActor().double()


@pytest.mark.parametrize("name", TRPO)
def test_conjugate_gradient_matches_linear_solve(name):
    cg = load(name).conjugate_gradient
    generator = torch.Generator().manual_seed(0)
    m = torch.randn(8, 8, dtype=torch.float64, generator=generator)
    a = m @ m.T + 0.5 * torch.eye(8, dtype=torch.float64)  # symmetric positive definite
    b = torch.randn(8, dtype=torch.float64, generator=generator)
    expected = torch.linalg.solve(a, b)
    # In exact arithmetic CG solves an n x n system in n iterations; the scripts run 10.
    torch.testing.assert_close(cg(lambda v: a @ v, b, 10), expected, rtol=1e-8, atol=1e-8)
    # Fewer iterations than n: an approximation that is better than the start (x = 0) but not exact.
    partial = cg(lambda v: a @ v, b, 3)
    assert torch.linalg.norm(a @ partial - b) < torch.linalg.norm(b)
    assert not torch.allclose(partial, expected, atol=1e-6)


@pytest.mark.parametrize("name", TRPO)
def test_fisher_vector_product_matches_explicit_hessian_of_mean_kl(name):
    module = load(name)
    actor = tiny_actor()
    obs = torch.randn(16, 3, dtype=torch.float64)
    params = dict(actor.named_parameters())
    names = list(params)
    shapes = [p.shape for p in params.values()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in params.values()])
    with torch.no_grad():
        fixed = actor(obs)

    def mean_kl(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        state = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        policy = torch.func.functional_call(actor, state, (obs,))
        return kl_divergence(fixed, policy).sum(-1).mean()

    hessian = torch.autograd.functional.hessian(mean_kl, theta0)
    damping = 0.1
    fvp = module.fisher_vector_product(actor, obs, damping)
    for seed in range(3):
        v = torch.randn(
            len(theta0), dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
        )
        torch.testing.assert_close(fvp(v), hessian @ v + damping * v, rtol=1e-7, atol=1e-9)


def quadratic_problem(actor, curvature):
    """A surrogate that rises linearly along +theta and a KL that grows as curvature * |step|^2."""
    theta0 = nn.utils.parameters_to_vector(actor.parameters()).detach().clone()

    def surrogate_and_kl():
        delta = nn.utils.parameters_to_vector(actor.parameters()).detach() - theta0
        return delta.sum().item(), curvature * (delta @ delta).item()

    return theta0, surrogate_and_kl


@pytest.mark.parametrize("name", TRPO)
def test_line_search_never_accepts_a_step_beyond_the_kl_bound(name):
    line_search = load(name).line_search
    actor = tiny_actor()
    theta0, surrogate_and_kl = quadratic_problem(actor, curvature=1.0)
    n = len(theta0)
    # The KL of the full step: n = 28; of 2^-i steps: 28 / 4^i.
    full_step = torch.ones(n, dtype=torch.float64)
    args = SimpleNamespace(max_kl=0.05, max_backtracks=10, accept_ratio=0.1)
    accepted, steps, improvement, kl = line_search(
        actor, surrogate_and_kl, full_step, float(n), args
    )
    # 28 / 4^i <= 0.05 first at i = 5 (0.027): the sixth step tried.
    assert accepted and steps == 6
    assert kl <= args.max_kl
    assert kl == pytest.approx(n / 4**5)
    assert improvement == pytest.approx(n / 2**5)
    theta = nn.utils.parameters_to_vector(actor.parameters()).detach()
    torch.testing.assert_close(theta, theta0 + full_step / 2**5)


@pytest.mark.parametrize("name", TRPO)
def test_line_search_restores_the_old_parameters_when_it_gives_up(name):
    line_search = load(name).line_search
    actor = tiny_actor()
    theta0, surrogate_and_kl = quadratic_problem(actor, curvature=1.0)
    args = SimpleNamespace(max_kl=0.05, max_backtracks=10, accept_ratio=0.1)
    # Downhill: the surrogate falls along the step, so no step is accepted.
    downhill = -torch.ones(len(theta0), dtype=torch.float64)
    accepted, steps, improvement, kl = line_search(actor, surrogate_and_kl, downhill, 1.0, args)
    assert not accepted and steps == args.max_backtracks and improvement == 0.0
    assert torch.equal(nn.utils.parameters_to_vector(actor.parameters()).detach(), theta0)
    # Uphill but always beyond the bound: 10 halvings leave the KL at 28 * 1e6 / 4^9 > 0.05.
    huge = 1e3 * torch.ones(len(theta0), dtype=torch.float64)
    accepted, *_ = line_search(actor, surrogate_and_kl, huge, 1e3 * len(theta0), args)
    assert not accepted
    assert torch.equal(nn.utils.parameters_to_vector(actor.parameters()).detach(), theta0)


@pytest.mark.parametrize("name", TRPO)
def test_trpo_step_raises_the_surrogate_with_kl_close_to_the_bound(name):
    module = load(name)
    actor = tiny_actor(seed=1)
    torch.manual_seed(1)
    obs = torch.randn(512, 3, dtype=torch.float64)
    with torch.no_grad():
        policy = actor(obs)
        actions = policy.sample()
        old_logprobs = policy.log_prob(actions).sum(-1)
    # Pushing the first action up and the second down pays.
    advantages = actions[:, 0] - actions[:, 1]
    advantages = (advantages - advantages.mean()) / advantages.std()
    # The script's own CG iterations, damping and line search; the Fisher on the whole batch, so
    # that the quadratic model of the step's KL is close to the KL the line search checks.
    args = module.Args(max_kl=0.01, fisher_fraction=1.0)
    stats = module.trpo_step(actor, obs, actions, old_logprobs, advantages, args)
    with torch.no_grad():
        new_policy = actor(obs)
        kl = kl_divergence(policy, new_policy).sum(-1).mean().item()
        ratio = (new_policy.log_prob(actions).sum(-1) - old_logprobs).exp()
        surrogate = (ratio * advantages).mean().item()
    assert stats["accepted"] and stats["line_search_steps"] == 1
    # The surrogate at the old policy is mean(A) = 0.
    assert surrogate > advantages.mean().item() + 0.05
    assert stats["actual_improvement"] == pytest.approx(surrogate - advantages.mean().item())
    assert 0.8 * args.max_kl < kl <= args.max_kl
    assert stats["kl"] == pytest.approx(kl)
