"""PPO-Minimal (PPO-M): PPO's clipped objective without the code-level optimizations.

The PPO-M variant of "Implementation Matters in Deep Policy Gradients: A Case Study on PPO and TRPO"
(Engstrom et al., ICLR 2020; section 3, Table 1) as the authors' released code runs it: the clipped
objective (Schulman et al. 2017, eq. 7) with Xavier init and none of the optimizations but the two
every released config has on (defaults: the released Hopper PPO-M configuration). Its sibling
ppo_continuous.py is this file plus the optimizations: `diff ppo_m.py ppo_continuous.py`.

Run:  python ppo_m.py --env-id Hopper-v5 --seed 1
"""

import io
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter


# ==== Args ========================================================================================
@dataclass
class Args:
    # --- experiment ---
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment, part of the run directory's name"""
    seed: int = 1
    """seed of numpy, torch and the environment"""
    save_model: bool = False
    """save the model (weights, observation statistics, args) in the run directory"""

    # --- environment and rollout ---
    env_id: str = "Hopper-v5"
    """the id of a gymnasium environment with a continuous (Box) action space"""
    total_timesteps: int = 1_000_000
    """environment steps, rounded down to whole batches (1M: 488 iterations of 2048, as released)"""
    num_steps: int = 2048
    """environment steps per iteration (the rollout length T), from one environment, as released"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda of generalized advantage estimation"""
    time_limit_as_termination: bool = False
    """treat an episode cut by the time limit as ended, as released (default: bootstrap it)"""

    # --- value function (fitted the same way by all four variants) ---
    value_learning_rate: float = 4e-4
    """Adam learning rate of the value network"""
    update_epochs: int = 10
    """passes over the batch in each update"""
    num_minibatches: int = 32
    """minibatches per pass (32 minibatches of 64 samples with the defaults)"""
    adam_eps: float = 1e-5
    """epsilon of both Adam optimizers (1e-5 as released, not torch's 1e-8)"""

    # --- code-level optimizations (paper section 3): only the two on in every released config ---
    norm_obs: bool = True
    """optimization 6: normalize observations by their running mean and std"""
    tanh: bool = True
    """optimization 8: tanh activations in both networks; off: ReLU"""

    # --- PPO policy update ---
    learning_rate: float = 1.7e-4
    """Adam learning rate of the policy"""
    clip_coef: float = 0.2
    """the surrogate clipping epsilon: the ratio pi_new / pi_old is clipped to [1 - eps, 1 + eps]"""
    clip_surrogate: bool = True
    """clip the ratio by --clip-coef; off: the plain surrogate mean(ratio * A), as PPO-NoClip"""
    ent_coef: float = 0.0
    """coefficient of the entropy bonus (0 as released)"""

    # --- derived after parsing (not command-line options) ---
    batch_size: tyro.conf.Suppress[int] = 0
    """num_steps: the samples of one iteration"""
    minibatch_size: tyro.conf.Suppress[int] = 0
    """batch_size // num_minibatches"""
    num_iterations: tyro.conf.Suppress[int] = 0
    """total_timesteps // batch_size"""


# ==== Setup =======================================================================================
def train(args: Args):
    """The whole training run; the helpers it calls follow it, in the order it meets them."""
    try:  # a plain environment: every optimization is written in the loop below, not in a wrapper
        env = gym.make(args.env_id)
    except gym.error.Error as e:
        fail(f"cannot make environment {args.env_id!r}: {e}")
    if not isinstance(env.action_space, gym.spaces.Box):
        fail(f"{args.env_id} has {type(env.action_space).__name__} actions, not continuous ones")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]

    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    try:  # here, not at the first write: a folder that cannot be written fails before training
        os.makedirs(f"runs/{run_name}")  # not a folder of a run of the same name and second
        writer = SummaryWriter(f"runs/{run_name}")
        table = "\n".join(f"|{key}|{value}|" for key, value in asdict(args).items())
        writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
    except OSError as e:
        fail(f"cannot create the run directory runs/{run_name}: {e.strerror}")

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    actor = Actor(obs_dim, act_dim, args)
    critic = Critic(obs_dim, args)
    # Adam with eps 1e-5, as released; fused=True changes only its speed (docs/throughput.md).
    adam = dict(eps=args.adam_eps, fused=True)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.value_learning_rate, **adam)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, **adam)
    obs_rms = RunningMeanStd((obs_dim,))

    # Rollout storage. final_obs holds the last observation of episodes cut by a time limit.
    obs = np.zeros((args.num_steps, obs_dim), dtype=np.float32)
    actions = np.zeros((args.num_steps, act_dim), dtype=np.float32)
    rewards = np.zeros(args.num_steps, dtype=np.float32)
    terminations = np.zeros(args.num_steps, dtype=np.float32)
    truncations = np.zeros(args.num_steps, dtype=np.float32)
    final_obs = np.zeros((args.num_steps, obs_dim), dtype=np.float32)

    # Ctrl-C, or a cluster's SIGTERM at a job's time limit: finish the iteration, log, save, exit.
    stop_signal = 0

    def request_stop(signum, frame):
        nonlocal stop_signal
        stop_signal = signum
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C or SIGTERM stops at once
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        print(f"\n{name}: stopping after this iteration (press again to abort)", flush=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    global_step, start_time = 0, time.time()
    episode_return, episode_length = 0.0, 0  # the raw environment reward, never a scaled one
    latest_return = float("nan")
    next_obs_raw, _ = env.reset(seed=args.seed)
    # Optimization 6 (observation normalization): the statistics see every observation.
    if args.norm_obs:
        obs_rms.update(next_obs_raw)
    next_obs = normalize_obs(next_obs_raw, obs_rms, args)
    print(f"training on {args.env_id}, {args.num_iterations} iterations; logs in runs/{run_name}")

    for iteration in range(1, args.num_iterations + 1):
        if stop_signal:
            break

        # ==== Rollout =============================================================================
        iteration_returns = []
        for step in range(args.num_steps):
            global_step += 1
            obs[step] = next_obs
            with torch.inference_mode():
                # A sample of N(mean, std^2). The raw sample goes to the env, unclipped, as
                # released: MuJoCo clamps the controls, and the control cost sees the raw action.
                mean = actor.mean(torch.from_numpy(next_obs))
                action = torch.normal(mean, actor.logstd.exp()).numpy()
            actions[step] = action
            next_obs_raw, reward, termination, truncation, _ = env.step(action)
            done = termination or truncation
            if args.time_limit_as_termination:  # the released semantics; see the deviation below
                termination, truncation = done, False
            episode_return += reward
            episode_length += 1

            rewards[step], terminations[step], truncations[step] = reward, termination, truncation
            # Deviation from the released code, which treats the time limit as a terminal state:
            # an episode cut by the time limit could have gone on, so GAE bootstraps it from the
            # value of its last observation, kept here before the reset.
            if truncation:
                final_obs[step] = normalize_obs(next_obs_raw, obs_rms, args)
            if done:  # the batch goes on into the next episode; each transition lies inside one
                writer.add_scalar("charts/episodic_return", episode_return, global_step)
                writer.add_scalar("charts/episodic_length", episode_length, global_step)
                iteration_returns.append(episode_return)
                episode_return, episode_length = 0.0, 0
                next_obs_raw, _ = env.reset()

            # Optimization 6 (observation normalization): update the statistics, then normalize.
            if args.norm_obs:
                obs_rms.update(next_obs_raw)
            next_obs = normalize_obs(next_obs_raw, obs_rms, args)

        # ==== Advantages (GAE) ====================================================================
        b_obs, b_actions = torch.from_numpy(obs), torch.from_numpy(actions)
        with torch.no_grad():
            values = critic(b_obs).numpy()  # V of the policy before this update, on the batch
            next_value = critic(torch.from_numpy(next_obs))[None].numpy()
            next_values = np.concatenate([values[1:], next_value])
            truncated = truncations.astype(bool)
            next_values[truncated] = critic(torch.from_numpy(final_obs[truncated])).numpy()
        dones = np.maximum(terminations, truncations)
        advantages = compute_gae(
            rewards, values, next_values, terminations, dones, args.gamma, args.gae_lambda
        )
        returns = advantages + values  # the value target: V_old + A, the GAE lambda-return

        with torch.no_grad():
            # The policy that collected the batch, kept for the ratios and the KL after the update.
            b_means, old_logstd = actor.mean(b_obs), actor.logstd.clone()
            b_logprobs = gaussian_log_prob(b_means, old_logstd, b_actions)
        b_advantages, b_returns, b_values = map(torch.from_numpy, (advantages, returns, values))
        b_inds = np.arange(args.batch_size)

        # ==== Value update: before the policy, on advantages from the old value net, as released =
        v_losses = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start : start + args.minibatch_size]
                newvalue = critic(b_obs[mb_inds])
                mb_returns = b_returns[mb_inds]
                v_loss = ((newvalue - mb_returns) ** 2).mean()
                critic_optimizer.zero_grad()
                v_loss.backward()
                critic_optimizer.step()
                v_losses.append(v_loss.detach())

        # ==== Policy update: PPO's clipped surrogate, 10 epochs x 32 minibatches ==================
        pg_losses, entropies, logratios = [], [], []
        # PPO-NoClip (the paper's Table 2) clips nothing: an infinite epsilon, as the released 1e32.
        clip_coef = args.clip_coef if args.clip_surrogate else float("inf")
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start : start + args.minibatch_size]
                mb_means = actor.mean(b_obs[mb_inds])
                newlogprob = gaussian_log_prob(mb_means, actor.logstd, b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                # Advantages are normalized per minibatch (always on in the released code).
                mb_adv = b_advantages[mb_inds]
                mb_advantages = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = clipped_surrogate_loss(ratio, mb_advantages, clip_coef)
                entropy = gaussian_entropy(actor.logstd)
                actor_optimizer.zero_grad()
                (pg_loss - args.ent_coef * entropy).backward()
                actor_optimizer.step()
                pg_losses.append(pg_loss.detach())
                entropies.append(entropy.detach())
                logratios.append(logratio.detach())
        # The policy step's own statistics, over all its minibatches (approx_kl: the k3 estimator).
        pg_loss = torch.stack(pg_losses).mean().item()
        logratio = torch.cat(logratios)
        approx_kl = (logratio.exp() - 1 - logratio).mean().item()  # the k3 estimate of KL(old||new)
        clipfrac = ((logratio.exp() - 1.0).abs() > clip_coef).float().mean().item()
        learning_rate = actor_optimizer.param_groups[0]["lr"]
        writer.add_scalar("charts/learning_rate", learning_rate, global_step)
        writer.add_scalar("losses/policy_loss", pg_loss, global_step)
        writer.add_scalar("losses/entropy", torch.stack(entropies).mean().item(), global_step)
        writer.add_scalar("losses/approx_kl", approx_kl, global_step)
        writer.add_scalar("losses/clipfrac", clipfrac, global_step)

        # ==== Logging =============================================================================
        v_loss = torch.stack(v_losses).mean().item()
        if not (np.isfinite(v_loss) and np.isfinite(pg_loss)):
            writer.close()
            fail(f"a loss is NaN or infinite at iteration {iteration}: lower the learning rates", 1)
        with torch.no_grad():
            # The paper's trust-region measurements (its section 5), on this batch after the whole
            # update: the mean KL(old || new) over states, and the largest ratio pi_new / pi_old.
            new_means = actor.mean(b_obs)
            mean_kl = gaussian_kl(b_means, old_logstd, new_means, actor.logstd).mean().item()
            new_logprobs = gaussian_log_prob(new_means, actor.logstd, b_actions)
            max_ratio = (new_logprobs - b_logprobs).exp().max().item()
        var_returns = b_returns.var().item()
        var_residual = (b_returns - b_values).var().item()
        explained_var = 1.0 - var_residual / var_returns if var_returns else float("nan")
        elapsed = time.time() - start_time
        sps = int(global_step / elapsed)
        writer.add_scalar("charts/SPS", sps, global_step)
        writer.add_scalar("losses/value_loss", v_loss, global_step)
        writer.add_scalar("losses/explained_variance", explained_var, global_step)
        writer.add_scalar("trust_region/mean_kl", mean_kl, global_step)
        writer.add_scalar("trust_region/max_ratio", max_ratio, global_step)
        if iteration_returns:
            latest_return = float(np.mean(iteration_returns))
        minutes_left = (args.num_iterations - iteration) * elapsed / iteration / 60
        print(
            f"iter {iteration}/{args.num_iterations}  step {global_step}  SPS {sps}  "
            f"return {latest_return:.1f}  kl {mean_kl:.4f}  left {minutes_left:.1f} min",
            flush=True,
        )

    # ==== Save ====================================================================================
    env.close()
    writer.close()
    if args.save_model:
        obs_stats = {"mean": torch.tensor(obs_rms.mean), "m2": torch.tensor(obs_rms.m2)}
        checkpoint = {
            "script": os.path.basename(__file__),  # evaluate.py rebuilds the policy with its code
            "actor": actor.state_dict(),
            "critic": critic.state_dict(),
            "obs_rms": {"count": obs_rms.count, **obs_stats},
            "args": asdict(args),
        }
        model_path = f"runs/{run_name}/{args.exp_name}.pt"
        save_checkpoint(checkpoint, model_path)
        print(f"model saved; evaluate it with: python evaluate.py {model_path}", flush=True)
    if stop_signal:  # saved, but not finished: the shell's exit code for the signal (130, 143)
        sys.exit(128 + stop_signal)


# ==== Helpers =====================================================================================
class RunningMeanStd:
    """Mean and variance of everything seen so far, one sample at a time by Welford's algorithm,
    as the released code's RunningStat. The variance is the sample variance (n - 1), and with a
    single sample it is mean**2, as released (so the first normalized observation is 0)."""

    def __init__(self, shape=()):
        self.count = 0
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)  # sum of squared deviations from the mean

    def update(self, x):
        self.count += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.count
        self.m2 = self.m2 + delta * (x - self.mean)  # delta times the deviation from the new mean

    @property
    def var(self):
        return self.m2 / (self.count - 1) if self.count > 1 else self.mean**2

    @property
    def std(self):
        return np.sqrt(self.var)


def normalize_obs(obs, obs_rms: RunningMeanStd, args: Args) -> np.ndarray:
    """The network's view of a raw observation; the caller updates the statistics, not this."""
    # Optimization 6 (observation normalization): a per-dimension running z-score.
    if args.norm_obs:
        obs = (obs - obs_rms.mean) / (obs_rms.std + 1e-8)
    return obs.astype(np.float32)


# The released code's Xavier-uniform init of every weight matrix, output layers included, and zero
# biases: no orthogonal init, no small output scaling.
def layer_init(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(in_dim: int, out_dim: int, args: Args) -> nn.Sequential:
    """The 64-64 network of the policy's mean and of the value function (they share no weights)."""
    # Optimization 8 (tanh activations): the released code hard-codes tanh; ReLU is the other.
    activation = nn.Tanh if args.tanh else nn.ReLU
    return nn.Sequential(
        layer_init(nn.Linear(in_dim, 64)),
        activation(),
        layer_init(nn.Linear(64, 64)),
        activation(),
        layer_init(nn.Linear(64, out_dim)),
    )


class Actor(nn.Module):
    """Gaussian policy: an MLP gives the mean; the log-std is a state-independent vector."""

    def __init__(self, obs_dim: int, act_dim: int, args: Args):
        super().__init__()
        self.mean = mlp(obs_dim, act_dim, args)
        self.logstd = nn.Parameter(torch.zeros(act_dim))


class Critic(nn.Module):
    """Value function: an MLP of its own."""

    def __init__(self, obs_dim: int, args: Args):
        super().__init__()
        self.net = mlp(obs_dim, 1, args)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


# The policy's Gaussian, as formulas rather than a torch.distributions.Normal: they say what is
# computed. Each function sums over the action dimensions, which are independent.
def gaussian_log_prob(mean, logstd, actions):
    """log N(a; mu, sigma^2) = sum of -((a - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2."""
    z = (actions - mean) / logstd.exp()
    return (-0.5 * z**2 - logstd - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_entropy(logstd):
    """Entropy = sum of log sigma + log(2 pi e) / 2, the same in every state."""
    return (logstd + 0.5 * math.log(2 * math.pi * math.e)).sum()


def gaussian_kl(mean_p, logstd_p, mean_q, logstd_q):
    """KL(p || q) = sum of log(s_q / s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2 (s: std)"""
    var_p, var_q = (2 * logstd_p).exp(), (2 * logstd_q).exp()
    return (logstd_q - logstd_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5).sum(-1)


def compute_gae(rewards, values, next_values, terminations, dones, gamma, gae_lambda):
    """Generalized advantage estimation (Schulman et al. 2016), backwards in time, on [num_steps]
    arrays. next_values[t] is the value of the state step t reached: V(s_{t+1}) inside an episode,
    V(final observation) where a time limit cut it. Nothing is bootstrapped after a termination,
    a true end; every episode end stops the recursion, so no advantage leaks across episodes."""
    advantages = np.zeros_like(rewards)
    lastgaelam = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] * (1.0 - terminations[t]) - values[t]
        lastgaelam = delta + gamma * gae_lambda * (1.0 - dones[t]) * lastgaelam
        advantages[t] = lastgaelam
    return advantages


def clipped_surrogate_loss(ratio, advantages, clip_coef: float):
    """PPO's objective (Schulman et al. 2017, eq. 7), negated to be minimized:
    -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))."""
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef) * advantages
    return -torch.min(unclipped, clipped).mean()


def check_args(args: Args) -> Args:
    """Refuses a user's mistake in one sentence before anything starts; fills the derived values."""
    rules = [  # (fields, test, what the test asks for)
        ("total_timesteps num_steps update_epochs num_minibatches", lambda v: v > 0, "positive"),
        ("value_learning_rate learning_rate clip_coef", lambda v: v > 0, "positive"),
        ("gamma gae_lambda", lambda v: 0 <= v <= 1, "in [0, 1]"),
        ("adam_eps", lambda v: v >= 0, "non-negative"),
        ("seed", lambda v: 0 <= v < 2**32, "in [0, 2**32)"),
        ("exp_name", lambda v: v.strip(".") and os.path.basename(v) == v, "a plain name, no '/'"),
        ("num_minibatches", lambda v: args.num_steps % v == 0, "a divisor of --num-steps"),
        ("num_minibatches", lambda v: 2 * v <= args.num_steps, "at most half of --num-steps"),
        ("total_timesteps", lambda v: v >= args.num_steps, "at least one batch (--num-steps)"),
    ]
    for name, value in asdict(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    for fields, test, wanted in rules:
        for name in fields.split():
            if not test(getattr(args, name)):
                fail(f"--{name.replace('_', '-')} must be {wanted}, got {getattr(args, name)!r}")
    args.batch_size = args.num_steps
    args.minibatch_size = args.batch_size // args.num_minibatches
    args.num_iterations = args.total_timesteps // args.batch_size
    if args.total_timesteps % args.batch_size:
        print(f"note: {args.total_timesteps} steps round down to {args.num_iterations} batches")
    return args


def fail(message: str, code: int = 2):  # one sentence and a non-zero exit, not a traceback
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def save_checkpoint(checkpoint: dict, path: str):
    """Whole or not at all: the bytes go to a temporary name, which os.replace renames to path."""
    try:
        data = io.BytesIO()
        torch.save(checkpoint, data)  # into memory: torch.save to a full disk raises RuntimeError
        with open(f"{path}.tmp", "wb") as f:
            f.write(data.getbuffer())
        os.replace(f"{path}.tmp", path)
    except (OSError, RuntimeError) as e:  # a full disk, say: nothing is left at path
        if os.path.exists(f"{path}.tmp"):
            os.remove(f"{path}.tmp")
        fail(f"cannot save the model to {path}: {getattr(e, 'strerror', None) or e}", 1)


if __name__ == "__main__":
    torch.set_num_threads(1)  # one thread, as the benchmark ran (docs/throughput.md says why)
    train(check_args(tyro.cli(Args)))
