"""TRPO as the released code of Engstrom et al. (2020) runs it, without PPO's code-level optimizations.

Implements the TRPO variant of "Implementation Matters in Deep Policy Gradients: A Case Study on PPO
and TRPO" (Engstrom, Ilyas, Santurkar, Tsipras, Janoos, Rudolph, Madry; ICLR 2020; section 3 and
Table 1): the natural-gradient step of Schulman et al. (2015) by conjugate gradient on Fisher-vector
products, scaled to a hard bound on the mean KL and checked by a backtracking line search, with Xavier
init and none of the code-level optimizations but the two every released config has on (defaults:
the released Hopper TRPO configuration). Its sibling trpo_plus.py is this file plus the
optimizations; `diff trpo.py trpo_plus.py` shows exactly them.

Run:  python trpo.py --env-id Hopper-v5 --seed 1
Help: python trpo.py --help
"""

import importlib.util
import math
import os
import random
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass

try:  # torch and MuJoCo take seconds to load: a Ctrl-C meanwhile gets one line, not a traceback
    import gymnasium as gym
    import numpy as np
    import torch
    import torch.nn as nn
    import tyro
    from torch.utils.tensorboard import SummaryWriter
except KeyboardInterrupt:
    print("\nCtrl-C: aborted", file=sys.stderr)
    sys.exit(130)


# ======================================================================================================
# Args
# ======================================================================================================
@dataclass
class Args:
    # --- experiment ---
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment, part of the run directory's name"""
    seed: int = 1
    """seed of python, numpy, torch and the environments"""
    torch_deterministic: bool = True
    """sets torch.backends.cudnn.deterministic, a GPU setting: no effect here, the scripts run on the CPU"""
    save_model: bool = False
    """save a checkpoint (weights, observation statistics, args) in the run directory, then evaluate it"""
    eval_episodes: int = 10
    """episodes of the deterministic (mean) policy to run when a checkpoint is evaluated"""
    eval_checkpoint: str | None = None
    """evaluate this checkpoint for --eval-episodes episodes instead of training"""
    capture_video: bool = False
    """film each evaluation episode (MP4, in videos/ next to the checkpoint); needs OpenGL, EGL with no display"""

    # --- environment and rollout ---
    env_id: str = "Hopper-v5"
    """the id of a gymnasium environment with a continuous (Box) action space"""
    total_timesteps: int = 1_000_000
    """total environment steps, rounded down to whole batches (1M: 488 iterations of 2048, as released)"""
    num_steps: int = 2048
    """environment steps per iteration (the rollout length T), all from one environment, as in the paper"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda of generalized advantage estimation"""
    time_limit_as_termination: bool = False
    """treat an episode cut by the time limit as ended for good, as released (default: bootstrap it)"""

    # --- value function (fitted the same way by all four variants) ---
    value_learning_rate: float = 2e-4
    """Adam learning rate of the value network"""
    update_epochs: int = 10
    """passes over the batch in each update of the value net (the policy takes one TRPO step)"""
    num_minibatches: int = 32
    """minibatches per pass of the value net (32 minibatches of 64 samples with the defaults)"""
    adam_eps: float = 1e-5
    """epsilon of the value net's Adam optimizer (1e-5 as released, not torch's 1e-8)"""

    # --- code-level optimizations (paper section 3): only the two that every released config turns on ---
    # The released code hard-codes tanh and has observation normalization on in all four variants, PPO-M and
    # TRPO included, so the minimal variants keep both; the other seven are absent from this file.
    norm_obs: bool = True
    """optimization 6: normalize observations by their running mean and std (on in every released variant)"""
    tanh: bool = True
    """optimization 8: tanh activations in both networks (on in every released variant); off: ReLU"""

    # --- TRPO policy update ---
    max_kl: float = 0.13
    """the trust region: the bound delta on the mean KL(pi_old || pi_new) over the batch"""
    cg_iters: int = 10
    """conjugate-gradient iterations from x = 0, all of them unless the residual vanishes (as released)"""
    cg_damping: float = 0.1
    """damping added to the Fisher matrix: products are (F + damping * I) v"""
    fisher_fraction: float = 0.1
    """fraction of the batch's states (drawn anew each iteration) on which the Fisher products are taken"""
    max_backtracks: int = 10
    """step sizes the line search tries (the full step, then halved each time) before it gives up"""
    accept_ratio: float = 0.1
    """accept a step that gains over this fraction of its linear forecast; in [0, 1), as gains are about 1x that"""

    # --- derived after parsing (not command-line options) ---
    batch_size: tyro.conf.Suppress[int] = 0
    """num_steps: the samples of one iteration"""
    minibatch_size: tyro.conf.Suppress[int] = 0
    """batch_size // num_minibatches"""
    num_iterations: tyro.conf.Suppress[int] = 0
    """total_timesteps // batch_size"""


# ======================================================================================================
# Helpers
# ======================================================================================================
def fail(message: str, code: int = 2):
    """A user's mistake ends in one sentence on stderr and a non-zero exit, not a traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def abort(signum, frame):
    """Ctrl-C before training starts, or a second one during it: stop at once, with the shell's code for Ctrl-C."""
    print("\nCtrl-C: aborted", file=sys.stderr)
    sys.exit(130)


class RunningMeanStd:
    """Mean and variance of everything seen so far, one sample at a time by Welford's algorithm, as the
    released code's RunningStat. The variance is the sample variance (n - 1), and with a single sample it
    is mean**2, as released (so the first normalized observation is 0)."""

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
    """The network's view of a raw observation; the statistics are updated by the caller, not here."""
    # Optimization 6 (observation normalization): a per-dimension running z-score.
    if args.norm_obs:
        obs = (obs - obs_rms.mean) / (obs_rms.std + 1e-8)
    return obs.astype(np.float32)


def make_filmed_env(env_id: str) -> gym.Env:
    """The environment for --capture-video: it renders RGB frames, with no display too, cheaply enough to film a
    1000-step episode in well under a minute."""
    # With no display, gymnasium would pick GLFW and fail at the first frame; EGL renders off-screen. gymnasium
    # reads MUJOCO_GL when it makes its first renderer; setting it before gym.make is safe either way.
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if "MUJOCO_GL" not in os.environ and sys.platform.startswith("linux") and no_display:
        os.environ["MUJOCO_GL"] = "egl"
    env = gym.make(env_id, render_mode="rgb_array")
    if hasattr(env.unwrapped, "mujoco_renderer"):  # a MuJoCo environment
        model = env.unwrapped.model
        # MuJoCo's default 4096-pixel shadow map and multisampling make a frame 3-4x slower, for no visible gain.
        model.vis.quality.shadowsize = 1024
        model.vis.quality.offsamples = 0
        # gymnasium 1.4 films locomotion from a free camera that the body soon walks out of; the model's own
        # "track" camera (Hopper, Walker2d, HalfCheetah, Ant, Humanoid) follows it.
        if "track" in [model.camera(i).name for i in range(model.ncam)]:
            env.unwrapped.mujoco_renderer.camera_id = model.camera("track").id
    return env


def check_rendering(env_id: str):
    """--capture-video: render one frame before anything is trained or evaluated, so that a machine where no
    OpenGL backend can start says so at once, in one sentence."""
    if importlib.util.find_spec("moviepy") is None:
        fail("--capture-video needs moviepy to write MP4s: pip install -r requirements.txt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GLFW's own complaints; the sentence below says what to do
            env = make_filmed_env(env_id)
            env.reset(seed=0)
            env.render()
            env.close()
    except gym.error.Error as e:
        fail(f"cannot make environment {env_id!r}: {e}")
    except Exception as e:
        sys.unraisablehook = lambda unraisable: None  # the half-made renderer's complaints when it is collected
        fail(
            f"--capture-video cannot render {env_id} (MUJOCO_GL={os.environ.get('MUJOCO_GL')}, {type(e).__name__}): "
            "with no display, install libegl1 and libgl1-mesa-dri and leave MUJOCO_GL unset or set it to egl"
        )


# The released code's Xavier-uniform init of every weight matrix, output layers included, and zero
# biases: no orthogonal init, no small output scaling.
def layer_init(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def activation(args: Args) -> type[nn.Module]:
    # Optimization 8 (tanh activations): the released code hard-codes tanh; ReLU is the alternative.
    return nn.Tanh if args.tanh else nn.ReLU


class Actor(nn.Module):
    """Gaussian policy: a 64-64 MLP gives the mean, the log-std is a state-independent vector (init 0)."""

    def __init__(self, obs_dim: int, act_dim: int, args: Args):
        super().__init__()
        self.mean = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            activation(args)(),
            layer_init(nn.Linear(64, 64)),
            activation(args)(),
            layer_init(nn.Linear(64, act_dim)),
        )
        self.logstd = nn.Parameter(torch.zeros(act_dim))


# The policy's Gaussian, written as formulas rather than a torch.distributions.Normal: they say what is
# computed, and a minibatch step costs about a tenth less without the distribution object. Every function sums
# over the action dimensions, which are independent.
def gaussian_log_prob(mean, logstd, actions):
    """log N(actions; mean, exp(logstd)^2) = sum of -((a - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2."""
    return (-0.5 * ((actions - mean) / logstd.exp()) ** 2 - logstd - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_entropy(logstd):
    """Entropy = sum of log sigma + log(2 pi e) / 2: the same in every state, since the std does not depend on it."""
    return (logstd + 0.5 * math.log(2 * math.pi * math.e)).sum()


def gaussian_kl(mean_p, logstd_p, mean_q, logstd_q):
    """KL(p || q) = sum of log(sigma_q / sigma_p) + (sigma_p^2 + (mu_p - mu_q)^2) / (2 sigma_q^2) - 1/2."""
    var_p, var_q = (2 * logstd_p).exp(), (2 * logstd_q).exp()
    return (logstd_q - logstd_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5).sum(-1)


class Critic(nn.Module):
    """Value function: a separate 64-64 MLP (the released configs share no weights with the policy)."""

    def __init__(self, obs_dim: int, args: Args):
        super().__init__()
        self.net = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            activation(args)(),
            layer_init(nn.Linear(64, 64)),
            activation(args)(),
            layer_init(nn.Linear(64, 1)),
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


def compute_gae(rewards, values, next_values, terminations, dones, gamma: float, gae_lambda: float):
    """Generalized advantage estimation (Schulman et al. 2016), backwards in time; all inputs are
    [num_steps] numpy arrays. next_values[t] is the value of the state that step t reached: V(s_{t+1})
    inside an episode, V(final observation) where a time limit truncated it. A termination is a true
    end, so nothing is bootstrapped after it. Every episode end, termination or truncation, stops the
    recursion, so no advantage leaks from one episode into the next."""
    advantages = np.zeros_like(rewards)
    lastgaelam = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] * (1.0 - terminations[t]) - values[t]
        lastgaelam = delta + gamma * gae_lambda * (1.0 - dones[t]) * lastgaelam
        advantages[t] = lastgaelam
    return advantages


def flat_grad(output, params, **kwargs) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(output, params, **kwargs)])


def conjugate_gradient(Avp, b: torch.Tensor, iters: int, residual_tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for a symmetric positive-definite A known only through the product Avp(v) = A v.
    Starts from x = 0 and runs `iters` iterations, as released; residual_tol is not a stopping rule (at 1e-10
    it never triggers on a policy) but a guard against dividing by zero once a small system is solved."""
    x = torch.zeros_like(b)
    r = b.clone()  # the residual b - A x
    p = b.clone()  # the search direction, A-conjugate to the previous ones
    rr = r @ r
    for _ in range(iters):
        if rr < residual_tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def fisher_vector_product(actor: Actor, obs: torch.Tensor, damping: float):
    """Returns v -> (F + damping * I) v, with F the Hessian at the current parameters of the mean
    KL(pi_current || pi_theta) over obs: the Fisher information of the policy, never formed as a matrix.
    The KL gradient is taken once, with its graph; each product is then one more backward pass,
    the gradient of (grad KL . v)."""
    params = list(actor.parameters())
    mean = actor.mean(obs)
    kl = gaussian_kl(mean.detach(), actor.logstd.detach(), mean, actor.logstd)  # pi_current held constant
    grad_kl = flat_grad(kl.mean(), params, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad_kl @ v, params, retain_graph=True) + damping * v

    return fvp


def line_search(actor: Actor, surrogate_and_kl, full_step, expected_improvement, args: Args):
    """Backtracking line search along full_step: tries 2^-i full_step for i < max_backtracks. A step is taken
    only if the surrogate rose, by more than accept_ratio of the improvement the linear model expects,
    and the mean KL is within max_kl; otherwise the old parameters are restored (a zero step), as
    released. Returns (accepted, steps tried, actual improvement, KL after the step)."""
    old_params = nn.utils.parameters_to_vector(actor.parameters())
    surrogate_old, _ = surrogate_and_kl()
    for i in range(args.max_backtracks):
        fraction = 0.5**i
        nn.utils.vector_to_parameters(old_params + fraction * full_step, actor.parameters())
        surrogate_new, kl = surrogate_and_kl()
        improvement = surrogate_new - surrogate_old
        if (
            kl <= args.max_kl
            and improvement > 0
            and improvement / (fraction * expected_improvement) > args.accept_ratio
        ):
            return True, i + 1, improvement, kl
    nn.utils.vector_to_parameters(old_params, actor.parameters())
    return False, args.max_backtracks, 0.0, 0.0


def trpo_step(actor: Actor, obs, actions, old_logprobs, advantages, args: Args) -> dict:
    """One TRPO update (Schulman et al. 2015, with the released code's constants): the natural gradient
    s = F^-1 g by conjugate gradient, scaled so that the quadratic model of the KL equals max_kl, then a
    backtracking line search under the exact KL bound."""
    params = list(actor.parameters())
    with torch.no_grad():
        old_mean, old_logstd = actor.mean(obs), actor.logstd.clone()

    def surrogate_and_kl():
        with torch.no_grad():
            mean = actor.mean(obs)
            ratio = (gaussian_log_prob(mean, actor.logstd, actions) - old_logprobs).exp()
            kl = gaussian_kl(old_mean, old_logstd, mean, actor.logstd)
            return (ratio * advantages).mean().item(), kl.mean().item()

    # g: the gradient of the surrogate L = mean(ratio * A) on the full batch, at the old policy.
    ratio = (gaussian_log_prob(actor.mean(obs), actor.logstd, actions) - old_logprobs).exp()
    surrogate = (ratio * advantages).mean()
    g = flat_grad(surrogate, params)
    # The Fisher matrix on a random subsample of the states: a cheaper curvature estimate, as released.
    subsample = torch.randperm(len(obs))[: max(1, int(args.fisher_fraction * len(obs)))]
    fvp = fisher_vector_product(actor, obs[subsample], args.cg_damping)
    step_dir = conjugate_gradient(fvp, g, args.cg_iters)
    # Scale s so that 1/2 s^T (F + damping I) s = max_kl, the damping included as released.
    shs = (step_dir @ fvp(step_dir)).item()
    full_step = np.sqrt(2.0 * args.max_kl / shs) * step_dir
    expected_improvement = (g @ full_step).item()  # the linear model's improvement for the full step
    accepted, steps, improvement, kl = line_search(actor, surrogate_and_kl, full_step, expected_improvement, args)
    return {
        "surrogate": surrogate.item() + improvement,
        "accepted": accepted,
        "line_search_steps": steps,
        "expected_improvement": expected_improvement,
        "actual_improvement": improvement,
        "kl": kl,
    }


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        fail(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception as e:
        fail(f"{path} is not a checkpoint this script can read ({type(e).__name__})")
    saved_args = checkpoint.get("args") if isinstance(checkpoint, dict) else None
    if not (isinstance(saved_args, dict) and "env_id" in saved_args):
        fail(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint written by --save-model")
    return checkpoint


def save_checkpoint(checkpoint: dict, paths: list[str]) -> str:
    """Saves to the first of paths that can be written, so that a finished run is not lost to one failed save
    (a full disk, a folder removed during the run). Returns the path used."""
    for path in paths:
        try:
            torch.save(checkpoint, path)
            return path
        except (OSError, RuntimeError) as e:  # torch raises RuntimeError for a missing folder
            print(f"warning: cannot save the model to {path} ({e})", file=sys.stderr)
    fail("the model could not be saved anywhere", code=1)


def evaluate(checkpoint: dict, eval_episodes: int, seed: int, video_prefix: str | None = None) -> list[float]:
    """Raw episodic returns of the deterministic (mean) policy, with the checkpoint's observation
    statistics frozen: the policy sees exactly the inputs it was trained on. With video_prefix, episode i is
    filmed to {video_prefix}-episode-{i}.mp4. Ctrl-C stops it: the list then holds the finished episodes."""
    if set(checkpoint["args"]) != set(asdict(Args())):
        raise KeyError("args")  # another variant's checkpoint: its observation pipeline may differ
    args = Args(**checkpoint["args"])
    if video_prefix is None:
        env = gym.make(args.env_id)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overwriting existing videos": each evaluation has its own names
            env = gym.wrappers.RecordVideo(
                make_filmed_env(args.env_id),
                os.path.dirname(video_prefix),
                episode_trigger=lambda episode: episode < eval_episodes,  # not the reset after the last one
                name_prefix=os.path.basename(video_prefix),
            )
    actor = Actor(env.observation_space.shape[0], env.action_space.shape[0], args)
    actor.load_state_dict(checkpoint["actor"])
    obs_rms = RunningMeanStd(env.observation_space.shape)
    obs_rms.count = checkpoint["obs_rms"]["count"]
    obs_rms.mean = checkpoint["obs_rms"]["mean"].numpy()
    obs_rms.m2 = checkpoint["obs_rms"]["m2"].numpy()
    returns, episode_return = [], 0.0
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: KeyboardInterrupt
    try:
        obs, _ = env.reset(seed=seed)
        while len(returns) < eval_episodes:
            with torch.no_grad():
                action = actor.mean(torch.from_numpy(normalize_obs(obs, obs_rms, args))).numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            if terminated or truncated:
                returns.append(episode_return)
                episode_return = 0.0
                obs, _ = env.reset()
    except KeyboardInterrupt:
        pass  # stop, and keep the episodes that finished
    finally:
        env.close()  # writes the last video
        signal.signal(signal.SIGINT, previous_handler)
    return returns


def report_evaluation(returns: list[float], eval_episodes: int, video_prefix: str | None):
    """Prints the evaluation's result, before anything that could fail, then where its videos are."""
    line = f"eval: {len(returns)} episodes"
    if returns:
        line += f", return {np.mean(returns):.1f} +- {np.std(returns):.1f}"
    if len(returns) < eval_episodes:
        line += f" (stopped by Ctrl-C, of {eval_episodes})"
    print(line, flush=True)
    for i in range(eval_episodes + 1):  # the episode that Ctrl-C cut short is filmed too
        if video_prefix is not None and os.path.exists(f"{video_prefix}-episode-{i}.mp4"):
            print(f"video: {video_prefix}-episode-{i}.mp4")


# ======================================================================================================
# Setup
# ======================================================================================================
if __name__ == "__main__":
    signal.signal(signal.SIGINT, abort)  # until the training loop, where request_stop takes over
    args = tyro.cli(Args)
    torch.set_num_threads(1)  # small MLPs: one thread is faster, and parallel runs do not fight for cores

    if args.eval_episodes <= 0:
        fail(f"--eval-episodes must be positive, got {args.eval_episodes}")
    if not args.exp_name or "/" in args.exp_name or os.sep in args.exp_name or args.exp_name in (".", ".."):
        fail(f"--exp-name must be a plain name, no '/' (it names the run and its checkpoint), got {args.exp_name!r}")
    if args.capture_video and not (args.save_model or args.eval_checkpoint):
        fail("--capture-video films the evaluation of a checkpoint: add --save-model or --eval-checkpoint")
    if args.eval_checkpoint is not None:
        checkpoint = load_checkpoint(args.eval_checkpoint)
        env_id = checkpoint["args"]["env_id"]
        env_id_given = any(arg.split("=")[0] in ("--env-id", "--env_id") for arg in sys.argv[1:])
        ignored = f" (--env-id {args.env_id} ignored)" if env_id_given and args.env_id != env_id else ""
        print(f"evaluating {args.eval_checkpoint} on {env_id}, the environment it was trained on{ignored}")
        # Each evaluation gets names of its own next to the checkpoint, so that evaluations never mix.
        checkpoint_dir, checkpoint_name = os.path.split(os.path.abspath(args.eval_checkpoint))
        eval_name = f"{os.path.splitext(checkpoint_name)[0]}__eval__{int(time.time())}"
        video_prefix = os.path.join(checkpoint_dir, "videos", eval_name) if args.capture_video else None
        if args.capture_video:
            check_rendering(env_id)
            try:
                os.makedirs(os.path.dirname(video_prefix), exist_ok=True)
            except OSError as e:
                fail(f"--capture-video cannot write videos next to the checkpoint ({e}); copy it to a writable folder")
        try:
            eval_returns = evaluate(checkpoint, args.eval_episodes, args.seed, video_prefix)
        except (KeyError, TypeError, RuntimeError) as e:
            fail(f"{args.eval_checkpoint} does not hold a checkpoint of this script ({type(e).__name__} {e})")
        except gym.error.Error as e:
            fail(f"cannot make the checkpoint's environment: {e}")
        report_evaluation(eval_returns, args.eval_episodes, video_prefix)
        try:
            writer = SummaryWriter(os.path.join(checkpoint_dir, eval_name))
            for i, episodic_return in enumerate(eval_returns):
                writer.add_scalar("eval/episodic_return", episodic_return, i)
            writer.close()
            print(f"eval scalars logged to {os.path.join(checkpoint_dir, eval_name)}")
        except OSError as e:
            print(f"note: the eval scalars were not logged: cannot write next to the checkpoint ({e})")
        sys.exit(0 if len(eval_returns) == args.eval_episodes else 130)

    for name in ("total_timesteps", "num_steps", "update_epochs", "num_minibatches"):
        if getattr(args, name) <= 0:
            fail(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name, value in asdict(args).items():
        if isinstance(value, float) and not np.isfinite(value):
            fail(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    for name in ("gamma", "gae_lambda"):
        if not 0 <= getattr(args, name) <= 1:
            fail(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(args, name)}")
    if not 0 < args.fisher_fraction <= 1:
        fail(f"--fisher-fraction must be in (0, 1], got {args.fisher_fraction}")
    if not 0 <= args.accept_ratio < 1:
        fail(f"--accept-ratio must be in [0, 1), got {args.accept_ratio}: steps gain about 1x their linear forecast")
    if not args.cg_damping >= 0:
        fail(f"--cg-damping must be non-negative, got {args.cg_damping}")
    for name in ("value_learning_rate", "max_kl", "cg_iters", "max_backtracks"):
        if not getattr(args, name) > 0:
            fail(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 0 <= args.seed < 2**32:
        fail(f"--seed must be in [0, 2**32), got {args.seed}")
    if not args.adam_eps >= 0:
        fail(f"--adam-eps must be non-negative, got {args.adam_eps}")
    args.batch_size = args.num_steps
    if args.batch_size % args.num_minibatches != 0:
        fail(
            f"the batch of {args.num_steps} samples (--num-steps) does not divide into "
            f"{args.num_minibatches} equal minibatches (--num-minibatches)"
        )
    args.minibatch_size = args.batch_size // args.num_minibatches
    if args.batch_size < 2:
        fail(f"a batch of {args.batch_size} sample is too small: advantages are normalized by their std")
    args.num_iterations = args.total_timesteps // args.batch_size
    if args.num_iterations == 0:
        fail(f"--total-timesteps {args.total_timesteps} is less than one batch ({args.batch_size} steps)")
    if args.total_timesteps % args.batch_size:
        print(
            f"note: {args.total_timesteps} steps is not a multiple of the {args.batch_size}-step batch; "
            f"running {args.num_iterations} iterations = {args.num_iterations * args.batch_size} steps"
        )

    try:
        # A plain environment: every optimization is written in the training loop below, not in a wrapper.
        env = gym.make(args.env_id)
    except gym.error.Error as e:
        fail(f"cannot make environment {args.env_id!r}: {e}")
    if not isinstance(env.action_space, gym.spaces.Box):
        space = type(env.action_space).__name__
        fail(f"{args.env_id} has a {space} action space; this script needs continuous (Box) actions")
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]
    if args.capture_video:
        check_rendering(args.env_id)

    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    try:
        os.makedirs(f"runs/{run_name}", exist_ok=True)  # here, not at the first write: fail before training
    except OSError as e:
        fail(f"cannot create the run directory runs/{run_name}: {e.strerror}")
    writer = SummaryWriter(f"runs/{run_name}")
    writer.add_text(
        "hyperparameters",
        "|param|value|\n|-|-|\n" + "\n".join(f"|{key}|{value}|" for key, value in asdict(args).items()),
    )

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic

    actor = Actor(obs_dim, act_dim, args)
    critic = Critic(obs_dim, args)
    # Adam with eps 1e-5, as released. fused=True runs each Adam update as one kernel: the same arithmetic,
    # several times fewer small ops per minibatch.
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.value_learning_rate, eps=args.adam_eps, fused=True)
    obs_rms = RunningMeanStd((obs_dim,))

    # Rollout storage. final_obs holds the last observation of episodes cut by a time limit.
    obs = np.zeros((args.num_steps, obs_dim), dtype=np.float32)
    actions = np.zeros((args.num_steps, act_dim), dtype=np.float32)
    rewards = np.zeros(args.num_steps, dtype=np.float32)
    terminations = np.zeros(args.num_steps, dtype=np.float32)
    truncations = np.zeros(args.num_steps, dtype=np.float32)
    final_obs = np.zeros((args.num_steps, obs_dim), dtype=np.float32)

    # Ctrl-C finishes the current iteration, then logs and saves as at the end of a full run.
    stop_requested = False

    def request_stop(signum, frame):
        global stop_requested
        stop_requested = True
        signal.signal(signal.SIGINT, abort)  # a second Ctrl-C stops at once
        print("\nCtrl-C: stopping after this iteration (press again to abort)", flush=True)

    signal.signal(signal.SIGINT, request_stop)

    global_step = 0
    start_time = time.time()
    episode_return, episode_length = 0.0, 0  # the raw environment reward, never a scaled one
    latest_return = float("nan")
    next_obs_raw, _ = env.reset(seed=args.seed)
    # Optimization 6 (observation normalization): the statistics see every observation, resets included.
    if args.norm_obs:
        obs_rms.update(next_obs_raw)
    next_obs = normalize_obs(next_obs_raw, obs_rms, args)
    print(f"training {args.exp_name} on {args.env_id} for {args.num_iterations} iterations; logs in runs/{run_name}")

    for iteration in range(1, args.num_iterations + 1):
        if stop_requested:
            break

        # ==============================================================================================
        # Rollout
        # ==============================================================================================
        iteration_returns = []
        for step in range(args.num_steps):
            global_step += 1
            obs[step] = next_obs
            with torch.inference_mode():
                # A sample of N(mean, std^2). The raw sample goes to the env, unclipped, as released:
                # MuJoCo clamps the controls, and the control cost sees the raw action.
                action = torch.normal(actor.mean(torch.from_numpy(next_obs)), actor.logstd.exp()).numpy()
            actions[step] = action
            next_obs_raw, reward, termination, truncation, _ = env.step(action)
            done = termination or truncation
            if args.time_limit_as_termination:  # the released semantics; see the deviation note below
                termination, truncation = done, False
            episode_return += reward
            episode_length += 1

            rewards[step] = reward
            terminations[step] = termination
            truncations[step] = truncation
            # Deviation from the released code, which treats the time limit as a terminal state: an
            # episode cut by the time limit could have gone on, so GAE bootstraps it from the value of
            # its last observation, kept here before the reset.
            if truncation:
                final_obs[step] = normalize_obs(next_obs_raw, obs_rms, args)
            if done:  # the batch goes on into the next episode; every stored transition lies inside one
                writer.add_scalar("charts/episodic_return", episode_return, global_step)
                writer.add_scalar("charts/episodic_length", episode_length, global_step)
                iteration_returns.append(episode_return)
                episode_return, episode_length = 0.0, 0
                next_obs_raw, _ = env.reset()

            # Optimization 6 (observation normalization): update the statistics, then normalize.
            if args.norm_obs:
                obs_rms.update(next_obs_raw)
            next_obs = normalize_obs(next_obs_raw, obs_rms, args)

        # ==============================================================================================
        # Advantages (GAE)
        # ==============================================================================================
        b_obs, b_actions = torch.from_numpy(obs), torch.from_numpy(actions)
        with torch.no_grad():
            values = critic(b_obs).numpy()  # V of the policy before this update, on every state of the batch
            next_values = np.concatenate([values[1:], critic(torch.from_numpy(next_obs))[None].numpy()])
            truncated = truncations.astype(bool)
            next_values[truncated] = critic(torch.from_numpy(final_obs[truncated])).numpy()
        dones = np.maximum(terminations, truncations)
        advantages = compute_gae(rewards, values, next_values, terminations, dones, args.gamma, args.gae_lambda)
        returns = advantages + values  # the value target: V_old + A, the GAE lambda-return

        with torch.no_grad():
            # The policy that collected the batch, kept for the ratios and for the KL after the update.
            b_means, old_logstd = actor.mean(b_obs), actor.logstd.clone()
            b_logprobs = gaussian_log_prob(b_means, old_logstd, b_actions)
        b_advantages = torch.from_numpy(advantages)
        b_returns = torch.from_numpy(returns)
        b_values = torch.from_numpy(values)
        b_inds = np.arange(args.batch_size)

        # ==============================================================================================
        # Value update: before the policy, on advantages from the old value net, as released
        # ==============================================================================================
        v_losses = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start : start + args.minibatch_size]
                newvalue = critic(b_obs[mb_inds])
                v_loss = ((newvalue - b_returns[mb_inds]) ** 2).mean()
                critic_optimizer.zero_grad()
                v_loss.backward()
                critic_optimizer.step()
                v_losses.append(v_loss.detach())

        # ==============================================================================================
        # Policy update: one TRPO step on the whole batch (trpo_step and the helpers above)
        # ==============================================================================================
        # Advantages are normalized over the full batch (always on in the released code).
        b_advantages = (b_advantages - b_advantages.mean()) / (b_advantages.std() + 1e-8)
        trpo_stats = trpo_step(actor, b_obs, b_actions, b_logprobs, b_advantages, args)
        # The policy step's own statistics; the trust region and the rest are logged below.
        pg_loss = -trpo_stats["surrogate"]
        with torch.no_grad():
            entropy = gaussian_entropy(actor.logstd).item()
        # TRPO has no policy learning rate; charts/learning_rate is the value net's.
        writer.add_scalar("charts/learning_rate", critic_optimizer.param_groups[0]["lr"], global_step)
        writer.add_scalar("losses/policy_loss", pg_loss, global_step)
        writer.add_scalar("losses/entropy", entropy, global_step)
        writer.add_scalar("losses/approx_kl", trpo_stats["kl"], global_step)
        writer.add_scalar("trpo/line_search_steps", trpo_stats["line_search_steps"], global_step)
        writer.add_scalar("trpo/accepted", float(trpo_stats["accepted"]), global_step)
        writer.add_scalar("trpo/expected_improvement", trpo_stats["expected_improvement"], global_step)
        writer.add_scalar("trpo/actual_improvement", trpo_stats["actual_improvement"], global_step)
        writer.add_scalar("trpo/kl_after_step", trpo_stats["kl"], global_step)

        # ==============================================================================================
        # Logging
        # ==============================================================================================
        v_loss = torch.stack(v_losses).mean().item()
        if not (np.isfinite(v_loss) and np.isfinite(pg_loss)):
            writer.close()
            fail(f"a loss became NaN or infinite at iteration {iteration}; try smaller learning rates", code=1)
        with torch.no_grad():
            # The paper's trust-region measurements (its section 5), on this batch after the whole update:
            # the mean KL(old || new) over states, and the largest probability ratio pi_new / pi_old.
            new_means = actor.mean(b_obs)
            mean_kl = gaussian_kl(b_means, old_logstd, new_means, actor.logstd).mean().item()
            max_ratio = (gaussian_log_prob(new_means, actor.logstd, b_actions) - b_logprobs).exp().max().item()
        var_returns = b_returns.var().item()
        explained_var = float("nan") if var_returns == 0 else 1.0 - (b_returns - b_values).var().item() / var_returns
        sps = int(global_step / (time.time() - start_time))
        writer.add_scalar("charts/SPS", sps, global_step)
        writer.add_scalar("losses/value_loss", v_loss, global_step)
        writer.add_scalar("losses/explained_variance", explained_var, global_step)
        writer.add_scalar("trust_region/mean_kl", mean_kl, global_step)
        writer.add_scalar("trust_region/max_ratio", max_ratio, global_step)
        if iteration_returns:
            latest_return = float(np.mean(iteration_returns))
        seconds_left = (args.num_iterations - iteration) * (time.time() - start_time) / iteration
        print(
            f"iter {iteration}/{args.num_iterations}  step {global_step}  SPS {sps}  "
            f"return {latest_return:.1f}  kl {mean_kl:.4f}  left {seconds_left / 60:.1f} min",
            flush=True,
        )

    # ==================================================================================================
    # Save
    # ==================================================================================================
    if args.save_model:
        checkpoint = {
            "actor": actor.state_dict(),
            "critic": critic.state_dict(),
            "obs_rms": {"count": obs_rms.count, "mean": torch.tensor(obs_rms.mean), "m2": torch.tensor(obs_rms.m2)},
            "args": asdict(args),
        }
        # If the run's folder cannot take it, the current folder or the temporary one will: never lose a run.
        fallbacks = [f"{run_name}.pt", os.path.join(tempfile.gettempdir(), f"{run_name}.pt")]
        model_path = save_checkpoint(checkpoint, [f"runs/{run_name}/{args.exp_name}.pt", *fallbacks])
        print(f"model saved to {model_path}", flush=True)
        video_prefix = None  # the videos go next to the checkpoint
        if args.capture_video:
            video_prefix = os.path.join(os.path.dirname(model_path), "videos", args.exp_name)
        eval_returns = evaluate(checkpoint, args.eval_episodes, args.seed, video_prefix)
        report_evaluation(eval_returns, args.eval_episodes, video_prefix)
        for i, episodic_return in enumerate(eval_returns):
            writer.add_scalar("eval/episodic_return", episodic_return, i)
    env.close()
    writer.close()
    evaluation_stopped = args.save_model and len(eval_returns) < args.eval_episodes
    if global_step < args.num_iterations * args.batch_size or evaluation_stopped:
        sys.exit(130)  # the shell's code for Ctrl-C: the run was saved, but it did not finish
