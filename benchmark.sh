#!/usr/bin/env bash
# benchmark.sh: the paper's Table 1 from the terminal (Engstrom et al. 2020, "Implementation
# Matters in Deep Policy Gradients"). Runs variants x environments x seeds, each with the paper's
# released configuration for that environment, then turns the TensorBoard logs into the table and
# figures with benchmark_report.py. `./benchmark.sh --help` lists the options.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python}"
ALL_VARIANTS=(ppo_continuous ppo_m trpo trpo_plus ppo_noclip)
# Run only when named in --variants: PPO's own released configuration with nothing but the surrogate
# clipping off, to tell what the clipping does to the trust region from what the released NoClip
# configs' other settings do (their reward scaling, entropy coefficient, gradient clipping).
EXTRA_VARIANTS=(ppo_noclip_only)

# The script each variant runs: PPO-NoClip is ppo_continuous.py with other settings.
script_of() {
  case "$1" in
    ppo_noclip | ppo_noclip_only) echo ppo_continuous ;;
    *) echo "$1" ;;
  esac
}

# Defaults: the paper's three environments in gymnasium's -v4 versions (the models of the paper's gym
# -v2 on the new bindings), 3 seeds, 1M steps (the paper's 488 iterations x 2048 steps, rounded), one
# job per core, into a folder that git ignores (the committed results in benchmark_results/ change
# only when --out names them). The cores are the CPUs this process may use: nproc, but without the
# OMP_NUM_THREADS (and OMP_THREAD_LIMIT) that it would honour, since each run gets one thread anyway.
VARIANTS=()
ENVS=(Hopper-v4 Walker2d-v4 Humanoid-v4)
SEEDS=(1 2 3)
STEPS=1000000
JOBS="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
OUT=benchmark_runs
TIME_LIMIT_TERMINATES=0
DRY_RUN=0
REPORT_ONLY=0
ABLATION=0
EXTRA_ARGS=()
JOBS_GIVEN=0
# --slurm: hand the runs to Slurm as one job array instead of running them here.
SLURM=0
WAIT=0
PARTITION=""
TIME_PER_RUN=""
SBATCH_ARGS=()

usage() {
  cat <<EOF
Usage: ./benchmark.sh [options] [-- extra arguments passed to every run]

Runs each variant on each environment and seed with the paper's released configuration for that
environment (written out in this file), then writes the report (benchmark_report.py):
table.md in the layout of the paper's Tables 1 and 2, learning curves and trust-region figures.

Options:
  --variants "A B"  variants to run (default: those of ppo_continuous ppo_m trpo trpo_plus
                    ppo_noclip whose script exists beside this file; ppo_noclip, the paper's
                    Table 2, is ppo_continuous.py with the surrogate clipping off). Also, only
                    when named: ppo_noclip_only, PPO's own configuration with nothing but the
                    surrogate clipping off
  --envs "A B"      gymnasium environment ids (default: Hopper-v4 Walker2d-v4 Humanoid-v4, the
                    paper's models; -v5 are today's); an environment that is not one of the
                    paper's three gets the Hopper settings. Each must exist in gymnasium and
                    have continuous actions, checked before anything starts
  --seeds "1 2"     seeds (default: 1 2 3)
  --steps N         environment steps per run (default: 1000000), at least one iteration's
                    batch (2048 steps, or the --num-steps given after --)
  --jobs N          runs in parallel, each on one thread (default: the number of cores)
  --out DIR         output folder: runs/ (TensorBoard), logs/, records/, table.md, *.png
                    (default: benchmark_runs, which git ignores; the committed results are in
                    benchmark_results, and only --out benchmark_results writes there). One
                    benchmark at a time per DIR: a second one is refused while the first runs
  --time-limit-as-termination
                    treat the 1000-step time limit as a termination, as the released code
                    does, instead of bootstrapping the cut episode; the runs are named
                    VARIANT_tlterm, so they sit beside the default ones
  --dry-run         print every command, run nothing
  --report-only     run no training, only the report on the logs already in DIR/runs and the
                    records in DIR/records (also while a benchmark runs there: the report
                    replaces its files whole)
  --ablation        the paper's Fig. 1 instead of Table 1: ppo_continuous with all 16 on/off
                    combinations of --clip-vloss, --scale-reward, --ortho-init and --anneal-lr
                    (everything else as released for each environment; unlike the paper, no
                    learning-rate sweep), reported as each switch's effect in DIR/ablation.md
  -h, --help        show this help

On a Slurm cluster (DIR and this folder must be on a file system that the nodes share):
  --slurm           submit the runs that are not finished as one sbatch job array, one task
                    per run on one CPU, then the report as a job that starts when the array
                    ends, whether or not every task succeeded; print the job ids and return
  --wait            with --slurm: wait for the report job, print its log, and exit as
                    ./benchmark.sh would (1 if a run failed)
  --partition NAME  with --slurm: the partition (default: the cluster's default)
  --time-per-run T  with --slurm: each task's time limit, in sbatch's --time format, e.g.
                    1:30:00 (default: the partition's); the report job gets the same
  --jobs N          with --slurm: at most N tasks at once (default: as many as Slurm gives)
  --sbatch-args "A" with --slurm: more sbatch arguments for both jobs, separated by spaces,
                    e.g. "--account=rl --mem-per-cpu=2G"

Lists may be separated by spaces or commas. Arguments after -- go to every run, after the released
configuration, so they override it (for example: -- --num-steps 1024).

Each run logs to DIR/logs/ENV__NAME__SEED.log and leaves DIR/logs/ENV__NAME__SEED.done when it
finished successfully; the same benchmark started again skips those runs, so an interrupted
benchmark resumes (a run whose command changed, say by another --steps, runs again). A run with no
marker whose whole record is in DIR/records (as the committed results in benchmark_results hold, with
no markers) counts as finished too, and the report reads those records beside the event files. A failed
run does not stop the others: its TensorBoard folder is moved to DIR/failed_runs/, it is listed
at the end, and the benchmark exits with status 1. Set PYTHON to choose the interpreter
(default: python).

With --slurm the same .done markers decide what to submit, so submitting again after failed or
cancelled tasks sends only the runs that are missing. The batch scripts go to DIR/slurm/, Slurm's
own output of each task to DIR/logs/slurm/; the report job lists the failed runs at the end of
its log and moves their TensorBoard folders to DIR/failed_runs/.
EOF
}

die() {
  echo "benchmark.sh: $*" >&2
  exit 2
}

# Bash 5.1 is needed for `wait -n -p`, which says which of the parallel runs has just ended.
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
  die "needs bash 5.1 or newer (this is $BASH_VERSION; on macOS: brew install bash)"
fi

# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
split_list() { # "a b,c" -> a b c, one per line
  tr ', ' '\n\n' <<<"$1" | sed '/^$/d'
}

while (($#)); do
  case "$1" in
    --variants | --envs | --seeds | --steps | --jobs | --out | --partition | --time-per-run | --sbatch-args)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --variants) mapfile -t VARIANTS < <(split_list "$2") ;;
        --envs) mapfile -t ENVS < <(split_list "$2") ;;
        --seeds) mapfile -t SEEDS < <(split_list "$2") ;;
        --steps) STEPS="$2" ;;
        --jobs) JOBS="$2" && JOBS_GIVEN=1 ;;
        --out) OUT="$2" ;;
        --partition) PARTITION="$2" ;;
        --time-per-run) TIME_PER_RUN="$2" ;;
        --sbatch-args) read -r -a SBATCH_ARGS <<<"$2" ;;
      esac
      shift 2
      ;;
    --slurm) SLURM=1 && shift ;;
    --wait) WAIT=1 && shift ;;
    --dry-run) DRY_RUN=1 && shift ;;
    --report-only) REPORT_ONLY=1 && shift ;;
    --ablation) ABLATION=1 && shift ;;
    --time-limit-as-termination) TIME_LIMIT_TERMINATES=1 && shift ;;
    -h | --help) usage && exit 0 ;;
    --) shift && EXTRA_ARGS=("$@") && break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_count "$STEPS" || die "--steps must be a positive integer, not '$STEPS'"
is_count "$JOBS" || die "--jobs must be a positive integer, not '$JOBS'"
((${#ENVS[@]})) || die "--envs is empty"
((${#SEEDS[@]})) || die "--seeds is empty"
for seed in "${SEEDS[@]}"; do
  [[ "$seed" =~ ^[0-9]+$ ]] || die "seeds must be non-negative integers, not '$seed'"
done
if ((SLURM)); then
  ((!REPORT_ONLY)) || die "--report-only runs the report here; leave out --slurm"
  [[ "$PARTITION" =~ ^[^[:space:]]*$ ]] || die "--partition takes one partition name, not '$PARTITION'"
  [[ -z "$TIME_PER_RUN" || "$TIME_PER_RUN" =~ ^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$ ]] ||
    die "--time-per-run takes sbatch's --time format (minutes, H:MM:SS or D-HH:MM:SS), not '$TIME_PER_RUN'"
else
  ((!WAIT)) || die "--wait is an option of --slurm"
  [[ -z "$PARTITION$TIME_PER_RUN${SBATCH_ARGS[*]}" ]] ||
    die "--partition, --time-per-run and --sbatch-args are options of --slurm"
fi

if ((ABLATION)); then
  ((${#VARIANTS[@]} == 0)) || die "--ablation always runs ppo_continuous; leave out --variants"
  ((!TIME_LIMIT_TERMINATES)) || die "--time-limit-as-termination is for the Table 1 runs, not --ablation"
  VARIANTS=(ppo_continuous)
elif ((${#VARIANTS[@]} == 0)); then
  for variant in "${ALL_VARIANTS[@]}"; do
    if [[ -f "$SCRIPT_DIR/$(script_of "$variant").py" ]]; then VARIANTS+=("$variant"); fi
  done
  ((${#VARIANTS[@]})) || ((REPORT_ONLY)) ||
    die "none of ${ALL_VARIANTS[*]} exists in $SCRIPT_DIR yet"
fi
for variant in "${VARIANTS[@]}"; do
  [[ " ${ALL_VARIANTS[*]} ${EXTRA_VARIANTS[*]} " == *" $variant "* ]] ||
    die "unknown variant '$variant' (the variants are: ${ALL_VARIANTS[*]} ${EXTRA_VARIANTS[*]})"
  [[ -f "$SCRIPT_DIR/$(script_of "$variant").py" ]] || ((REPORT_ONLY)) ||
    die "$SCRIPT_DIR/$(script_of "$variant").py does not exist"
done

# Runs start with cwd = OUT (the scripts write runs/... relative to it), so OUT must be absolute.
if [[ "$OUT" != /* ]]; then OUT="$PWD/$OUT"; fi
LOGS="$OUT/logs"

# ------------------------------------------------------------------------------------------------
# The released configuration. Every value is passed explicitly, even where it equals the script's
# default, so that this file alone says what the paper ran.
# ------------------------------------------------------------------------------------------------
# Every variant: 1 actor, T = 2048 steps per iteration, gamma 0.99, observation normalization (on
# in every released config, the minimal ones included), tanh networks. A checkpoint of every run
# (--save-model), so that any trained policy can be evaluated and filmed later.
COMMON=(--num-steps 2048 --gamma 0.99 --norm-obs --tanh --save-model)
# TRPO and TRPO+: 10 CG iterations, damping 0.1, Fisher-vector products on 10% of the states, up to
# 10 backtracking steps, accept above 0.1 of the expected improvement. (TRPO+'s configs also set a
# gradient-norm bound, which the released trpo_step never applies.)
TRPO_COMMON=(--cg-iters 10 --cg-damping 0.1 --fisher-fraction 0.1 --max-backtracks 10
  --accept-ratio 0.1)

# One line per (variant, environment): the released configs (the configs/ folder of
# MadryLab/implementation-matters, each merged over its base MuJoCo.json); where this code departs
# from the released code, the README's "Deviations from the released code" says. "-": the variant has no such option (PPO-M and TRPO have no optimization
# switches: their minimalism is absent lines of code).
#   init: ortho = orthogonal init with layer scaling (--ortho-init), xavier = --no-ortho-init.
#   reward_norm: returns = optimization 2 as in PPO (divide by the std of the discounted return);
#     rewards = the PPO-NoClip configs' running z-score of the per-step reward, scaled about its mean.
#   reward_clip: optimization 5's bound; the released code clips inside its reward filter.
#   obs_clip, grad_clip: the bound, or "off". grad_clip is on the policy only (the released ppo_step).
#   ent: the entropy coefficient (loss = surrogate - ent * entropy: a negative one penalizes entropy).
# PPO-NoClip (the paper's Table 2) is ppo_continuous.py with the surrogate clipping off (the released
# configs set epsilon to 1e32).
RELEASED_TABLE='
# variant       env       policy_lr max_kl value_lr gae_lambda value_clip init   anneal reward_norm reward_clip obs_clip ent    grad_clip
ppo_continuous  Hopper    0.0003    -      0.00025  0.95       no         ortho  yes    returns     10          10       0.0    off
ppo_continuous  Walker2d  0.0004    -      0.0003   0.95       yes        ortho  yes    returns     10          10       0.0    off
ppo_continuous  Humanoid  0.00015   -      0.0001   0.95       yes        ortho  yes    returns     10          10       0.0    off
ppo_m           Hopper    0.00017   -      0.0004   0.95       -          -      -      -           -           -        0.0    -
ppo_m           Walker2d  0.0001    -      0.0002   0.95       -          -      -      -           -           -        0.0    -
ppo_m           Humanoid  0.00009   -      0.0004   0.95       -          -      -      -           -           -        0.0    -
trpo            Hopper    -         0.13   0.0002   0.95       -          -      -      -           -           -        -      -
trpo            Walker2d  -         0.04   0.0003   0.95       -          -      -      -           -           -        -      -
trpo            Humanoid  -         0.07   0.0003   0.95       -          -      -      -           -           -        -      -
trpo_plus       Hopper    -         0.04   0.0002   0.95       no         ortho  no     returns     10          10       -      off
trpo_plus       Walker2d  -         0.07   0.0001   0.95       no         ortho  no     returns     10          10       -      off
trpo_plus       Humanoid  -         0.1    0.00005  0.85       yes        xavier no     returns     10          10       -      off
ppo_noclip      Hopper    0.00006   -      0.0004   0.925      no         ortho  yes    rewards     2.5         10       -0.005 4
ppo_noclip      Walker2d  0.0000725 -      0.0006   0.85       no         ortho  yes    rewards     30          off      -0.01  0.1
ppo_noclip      Humanoid  0.00002   -      0.00005  0.85       yes        xavier no     returns     10          10       0.005  0.5
'

released_config() { # $1 variant, $2 environment family (Hopper, Walker2d, Humanoid); sets CONFIG
  local row _variant _env policy_lr max_kl value_lr gae_lambda value_clip init anneal reward_norm
  local reward_clip obs_clip ent grad_clip
  local row_variant="$1"
  # ppo_noclip_only is PPO's row, with the surrogate clipping switched off below.
  if [[ "$1" == ppo_noclip_only ]]; then row_variant=ppo_continuous; fi
  row="$(grep -E "^$row_variant +$2 " <<<"$RELEASED_TABLE")" ||
    die "internal: no released configuration for $1 on $2"
  read -r _variant _env policy_lr max_kl value_lr gae_lambda value_clip init anneal reward_norm \
    reward_clip obs_clip ent grad_clip <<<"$row"
  CONFIG=("${COMMON[@]}")
  case "$1" in
    ppo_continuous | ppo_m) CONFIG+=(--clip-surrogate --clip-coef 0.2) ;;
    ppo_noclip) CONFIG+=(--no-clip-surrogate) ;;
    ppo_noclip_only) CONFIG+=(--no-clip-surrogate --clip-coef 0.2) ;;
    trpo | trpo_plus) CONFIG+=("${TRPO_COMMON[@]}") ;;
  esac
  if [[ "$policy_lr" != - ]]; then CONFIG+=(--learning-rate "$policy_lr"); fi
  if [[ "$max_kl" != - ]]; then CONFIG+=(--max-kl "$max_kl"); fi
  if [[ "$ent" != - ]]; then CONFIG+=(--ent-coef "$ent"); fi
  CONFIG+=(--value-learning-rate "$value_lr" --gae-lambda "$gae_lambda")
  [[ "$value_clip" == - ]] || CONFIG+=("$(switch clip-vloss "$value_clip")" --clip-vloss-coef 0.2)
  case "$init" in
    ortho) CONFIG+=(--ortho-init) ;;
    xavier) CONFIG+=(--no-ortho-init) ;;
  esac
  [[ "$anneal" == - ]] || CONFIG+=("$(switch anneal-lr "$anneal")")
  if [[ "$reward_norm" != - ]]; then
    CONFIG+=(--scale-reward --scale-reward-by "$reward_norm" --clip-reward --clip-reward-bound "$reward_clip")
  fi
  case "$obs_clip" in
    -) ;;
    off) CONFIG+=(--no-clip-obs) ;;
    *) CONFIG+=(--clip-obs --clip-obs-bound "$obs_clip") ;;
  esac
  case "$grad_clip" in
    -) ;;
    off) CONFIG+=(--no-clip-grad-norm) ;;
    *) CONFIG+=(--clip-grad-norm --max-grad-norm "$grad_clip") ;;
  esac
}

switch() { # switch NAME yes|no -> --NAME or --no-NAME
  if [[ "$2" == yes ]]; then echo "--$1"; else echo "--no-$1"; fi
}

paper_family() { # Hopper-v5 -> Hopper; an environment the paper did not run gets Hopper's settings
  local family="${1%-v*}"
  case "$family" in
    Hopper | Walker2d | Humanoid) echo "$family" ;;
    *) echo Hopper ;;
  esac
}

# The four switches of the paper's Fig. 1.
ABLATION_SWITCHES=(clip-vloss scale-reward ortho-init anneal-lr)

without_ablation_switches() { # drops the four switches from CONFIG, so the ablation sets them once
  local kept=() arg
  for arg in "${CONFIG[@]}"; do
    case "$arg" in
      --clip-vloss | --no-clip-vloss | --scale-reward | --no-scale-reward) ;;
      --clip-reward | --no-clip-reward) ;; # set with --scale-reward, see below
      --ortho-init | --no-ortho-init | --anneal-lr | --no-anneal-lr) ;;
      *) kept+=("$arg") ;;
    esac
  done
  CONFIG=("${kept[@]}")
}

# ------------------------------------------------------------------------------------------------
# Running: a pool of at most JOBS runs, each with its own log and a .done marker when it succeeded
# ------------------------------------------------------------------------------------------------
declare -A RUNNING=()    # pid -> key (ENV__NAME__SEED) of the runs in progress
declare -A MARKER_TEXT=() # key -> the command, written into the .done marker when the run succeeds
FAILED=()
NUM_STARTED=0
NUM_SKIPPED=0
NUM_PLANNED=0

quote() { # a command as one copy-pasteable line
  local line
  printf -v line '%q ' "$@"
  echo "${line% }"
}

move_run_dirs() { # the TensorBoard folders of run $1: into folder $2, or deleted if $2 is ""
  local dir
  while IFS= read -r dir; do
    if [[ -n "$2" ]]; then
      mkdir -p "$2" && rm -rf "${2:?}/$(basename "$dir")" && mv "$dir" "$2/"
    else
      rm -rf "$dir"
    fi
  done < <(find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d -name "$1__*" 2>/dev/null)
}

reap_one() { # waits for one run to end, then records how it ended
  local pid="" status=0
  wait -n -p pid "${!RUNNING[@]}" || status=$?
  [[ -n "$pid" ]] || return 0
  local key="${RUNNING[$pid]}"
  unset "RUNNING[$pid]"
  if ((status == 0)); then
    echo "${MARKER_TEXT[$key]}" >"$LOGS/$key.done"
    echo "finished $key"
  else
    FAILED+=("$key")
    move_run_dirs "$key" "$OUT/failed_runs"
    echo "FAILED   $key (exit status $status), see $LOGS/$key.log" >&2
  fi
}

on_signal() { # Ctrl-C: stop every run at once; started again, the benchmark reruns them whole
  trap - INT TERM
  if ((${#RUNNING[@]})); then
    echo "stopping ${#RUNNING[@]} runs" >&2
    kill -TERM "${!RUNNING[@]}" 2>/dev/null || true
    wait || true
  fi
  echo "interrupted: start the same command again to resume (finished runs are skipped)" >&2
  exit 130
}
trap on_signal INT TERM

flag_value() { # $1 a flag, then arguments: prints the flag's last value (the last one wins), or fails
  local flag="$1" value="" found=1 i
  shift
  local args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      "$flag") value="${args[i + 1]:-}" found=0 ;;
      "$flag"=*) value="${args[i]#*=}" found=0 ;;
    esac
  done
  echo "$value"
  return "$found"
}

has_whole_record() { # $1 key, then the run's arguments: is DIR/records/KEY.csv the whole run?
  # A record ends at the run's last iteration, and its header names the batch and the iterations
  # planned: so the record of a run of another length does not count.
  local record="$OUT/records/$1.csv" batch steps
  shift
  [[ -f "$record" ]] || return 1
  batch="$(flag_value --num-steps "$@")" || batch=2048
  steps="$(flag_value --total-timesteps "$@")" || return 1
  is_count "$batch" && is_count "$steps" || return 1
  local iterations=$((steps / batch))
  grep -q "^# run=.* batch_size=$batch .*planned_iterations=$iterations " "$record" &&
    [[ "$(tail -n 1 "$record" | cut -d, -f1)" == "$iterations" ]]
}

schedule() { # $1 key, then the script and its arguments: print, skip, or start the run
  local key="$1"
  shift
  local args_line log="$LOGS/$key.log" marker="$LOGS/$key.done"
  args_line="$(quote "$(basename "$1")" "${@:2}")"
  NUM_PLANNED=$((NUM_PLANNED + 1))
  local finished=0
  if [[ -f "$marker" && "$(cat "$marker")" == "$args_line" ]]; then finished=1; fi
  # No marker, but the whole run's record, as in a clone's committed results (--out
  # benchmark_results): the marker is not committed, the record is.
  if [[ ! -f "$marker" ]] && has_whole_record "$key" "${@:2}"; then finished=1; fi

  if ((SLURM)); then # collected here, submitted together after the loop
    if ((finished)); then
      NUM_SKIPPED=$((NUM_SKIPPED + 1))
      return
    fi
    PENDING_KEYS+=("$key")
    PENDING_COMMANDS+=("$(quote "$@")")
    return
  fi
  if ((DRY_RUN)); then
    if ((finished)); then printf '# finished, would be skipped: '; fi
    local command
    command="$(quote "$PYTHON" "$@")"
    echo "( cd $(quote "$OUT") && OMP_NUM_THREADS=1 $command ) > $(quote "$log") 2>&1"
    return
  fi
  if ((finished)); then
    NUM_SKIPPED=$((NUM_SKIPPED + 1))
    return
  fi
  if [[ -f "$marker" ]]; then
    echo "note: $key finished before with other settings; running it again"
    rm -f "$marker"
  fi
  # Leftovers of an interrupted attempt would be read by the report as a second run of this seed,
  # and the record of an earlier one as this run if it fails.
  move_run_dirs "$key" ""
  rm -f "$OUT/records/$key.csv"

  while ((${#RUNNING[@]} >= JOBS)); do reap_one; done
  MARKER_TEXT[$key]="$args_line"
  echo "# $args_line" >"$log"
  # One thread per run: JOBS runs share the cores, and small MLPs gain nothing from more threads.
  (cd "$OUT" && exec env OMP_NUM_THREADS=1 "$PYTHON" "$@") >>"$log" 2>&1 &
  RUNNING[$!]="$key"
  NUM_STARTED=$((NUM_STARTED + 1))
  echo "started  $key ($NUM_PLANNED of $NUM_TOTAL, log: $log)"
}

# ------------------------------------------------------------------------------------------------
# On a Slurm cluster: the pending runs as one job array, one run per task, then the report as a job
# that depends on the whole array
# ------------------------------------------------------------------------------------------------
PENDING_KEYS=()            # the runs to submit: task i runs PENDING_KEYS[i] ...
PENDING_COMMANDS=()        # ... with the command PENDING_COMMANDS[i] (script and arguments, quoted)
SLURM_DIR="$OUT/slurm"     # the batch scripts, and the job ids of the submissions still queued
SLURM_LOGS="$LOGS/slurm"   # Slurm's own output of each task and of the report job
ARRAY_PLACEHOLDER=ARRAY_ID # stands for the array's job id in a dry run

array_script() { # the batch script of the job array, on stdout
  cat <<EOF
#!/usr/bin/env bash
# Written by benchmark.sh --slurm: ${#PENDING_KEYS[@]} runs of the benchmark in $OUT, one per task of a
# job array. Task i runs the i-th command below, writes its output to logs/ENV__NAME__SEED.log and,
# if the run succeeds, the same .done marker as ./benchmark.sh, so that the next submission skips it.
set -uo pipefail
# One thread per run: a task may see every CPU of its node (the scripts' torch.set_num_threads(1)
# covers torch, not the libraries below it), and small MLPs gain nothing from more threads.
export OMP_NUM_THREADS=1
out=$(quote "$OUT")
python=$(quote "$SLURM_PYTHON")
case "\$SLURM_ARRAY_TASK_ID" in
EOF
  local i
  for i in "${!PENDING_KEYS[@]}"; do
    echo "  $i) key=$(quote "${PENDING_KEYS[$i]}") args=(${PENDING_COMMANDS[$i]}) ;;"
  done
  cat <<'EOF'
  *) echo "task $SLURM_ARRAY_TASK_ID: no such run" >&2 && exit 2 ;;
esac
log="$out/logs/$key.log"
printf -v done_text '%q ' "${args[0]##*/}" "${args[@]:1}" # what the marker says: the run's command
done_text="${done_text% }"
# Leftovers of an interrupted attempt would be read by the report as a second run of this seed,
# and the record of an earlier one as this run if it fails.
find "$out/runs" -mindepth 1 -maxdepth 1 -type d -name "${key}__*" -exec rm -rf {} +
rm -f "$out/records/$key.csv"
echo "# $done_text" >"$log"
echo "task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname): $key, log: $log"
status=0
(cd "$out" && exec "$python" "${args[@]}") >>"$log" 2>&1 || status=$?
if ((status == 0)); then
  echo "$done_text" >"$out/logs/$key.done"
  echo "finished $key"
else
  echo "FAILED   $key (exit status $status), see $log" >&2
fi
exit "$status"
EOF
}

report_script() { # the batch script of the report job, on stdout; its argument is the array's job id
  cat <<EOF
#!/usr/bin/env bash
# Written by benchmark.sh --slurm: the report of the benchmark in $OUT, run when the job array given
# as the argument has ended (afterany: whether or not every task succeeded). A run without its .done
# marker failed, was cancelled or ran out of time: as with ./benchmark.sh, its TensorBoard folder
# goes to failed_runs/, it is listed at the end, and the job exits with status 1.
set -uo pipefail
export OMP_NUM_THREADS=1
array="\$1"
out=$(quote "$OUT")
slurm_logs=$(quote "$SLURM_LOGS")
report=($(quote "$SLURM_PYTHON" "${REPORT_CMD[@]:1}"))
keys=($(quote "${PENDING_KEYS[@]}")) # task i ran keys[i]
EOF
  cat <<'EOF'
# How each task ended, while Slurm still remembers it (MinJobAge): one line per task.
declare -A how=()
while read -r line; do
  [[ "$line" =~ ArrayTaskId=([0-9]+)\ .*JobState=([A-Z_]+)\ .*ExitCode=([0-9]+):([0-9]+) ]] || continue
  how[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}, exit status ${BASH_REMATCH[3]}"
  if ((BASH_REMATCH[4])); then how[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}, signal ${BASH_REMATCH[4]}"; fi
done < <(scontrol -o show job "$array" 2>/dev/null)

failed=()
for i in "${!keys[@]}"; do
  key="${keys[$i]}"
  [[ ! -f "$out/logs/$key.done" ]] || continue
  failed+=("$key: ${how[$i]:-no .done marker}; logs: $out/logs/$key.log, $slurm_logs/${array}_$i.out")
  while IFS= read -r dir; do
    mkdir -p "$out/failed_runs" && rm -rf "$out/failed_runs/${dir##*/}" && mv "$dir" "$out/failed_runs/"
  done < <(find "$out/runs" -mindepth 1 -maxdepth 1 -type d -name "${key}__*")
done
echo "benchmark: $((${#keys[@]} - ${#failed[@]})) of ${#keys[@]} runs of array $array finished, ${#failed[@]} failed"

status=0
"${report[@]}" || status=$?
if ((${#failed[@]})); then
  echo "failed runs (their TensorBoard folders are in $out/failed_runs):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
exit "$status"
EOF
}

sbatch_options() { # $1 the job name, $2 its output file: the sbatch options of both jobs
  SBATCH_OPTIONS=(--parsable --job-name "$1" --output "$2" --ntasks 1 --cpus-per-task 1)
  if [[ -n "$PARTITION" ]]; then SBATCH_OPTIONS+=(--partition "$PARTITION"); fi
  if [[ -n "$TIME_PER_RUN" ]]; then SBATCH_OPTIONS+=(--time "$TIME_PER_RUN"); fi
  SBATCH_OPTIONS+=("${SBATCH_ARGS[@]}")
}

submit() { # $1 what (for the message), then sbatch's arguments: prints the job id, or says why not
  local what="$1" errors id
  shift
  errors="$(mktemp)"
  if ! id="$(sbatch "$@" 2>"$errors")"; then
    local reason
    reason="$(sed -n 's/^sbatch: error: //p' "$errors" | tail -n 1)"
    [[ -n "$reason" ]] || reason="$(tail -n 1 "$errors")"
    rm -f "$errors"
    echo "benchmark.sh: Slurm refused the $what: ${reason:-sbatch failed}" >&2
    return 1
  fi
  rm -f "$errors"
  echo "${id%%;*}" # --parsable prints ID or ID;CLUSTER
}

submit_to_slurm() {
  local num_tasks=${#PENDING_KEYS[@]}
  if ((num_tasks == 0)); then
    echo "benchmark: all $NUM_PLANNED runs finished before; nothing to submit" \
      "(./benchmark.sh --report-only redoes the report)"
    return 0
  fi
  local throttle=""
  if ((JOBS_GIVEN)); then throttle="%$JOBS"; fi
  sbatch_options benchmark "$SLURM_LOGS/%A_%a.out"
  local array_command=(sbatch "${SBATCH_OPTIONS[@]}" --array "0-$((num_tasks - 1))$throttle" "$SLURM_DIR/array.sh")
  sbatch_options benchmark-report "$SLURM_LOGS/report-%j.out"
  local report_command=(sbatch "${SBATCH_OPTIONS[@]}" --dependency "afterany:$ARRAY_PLACEHOLDER"
    "$SLURM_DIR/report.sh" "$ARRAY_PLACEHOLDER")

  if ((DRY_RUN)); then
    echo "# $num_tasks of $NUM_PLANNED runs to submit ($NUM_SKIPPED finished before)"
    echo "# ---- $SLURM_DIR/array.sh"
    array_script
    echo "# ---- $SLURM_DIR/report.sh"
    report_script
    echo "# ---- the submission"
    quote "${array_command[@]}"
    quote "${report_command[@]}"
    return 0
  fi

  mkdir -p "$SLURM_DIR" "$SLURM_LOGS"
  refuse_runs_still_queued
  local key
  for key in "${PENDING_KEYS[@]}"; do
    if [[ -f "$LOGS/$key.done" ]]; then
      echo "note: $key finished before with other settings; submitting it again"
      rm -f "$LOGS/$key.done" # else the report job would take it for finished even if its task never ran
    fi
  done
  array_script >"$SLURM_DIR/array.sh"
  report_script >"$SLURM_DIR/report.sh"
  local array_id report_id
  array_id="$(submit "job array" "${array_command[@]:1}")" || exit 2
  report_command=("${report_command[@]//$ARRAY_PLACEHOLDER/$array_id}")
  if ! report_id="$(submit "report job" "${report_command[@]:1}")"; then
    scancel "$array_id" 2>/dev/null || true
    echo "benchmark.sh: the job array $array_id was cancelled; nothing runs" >&2
    exit 2
  fi
  echo "$array_id $report_id ${PENDING_KEYS[*]}" >>"$SLURM_DIR/submitted"
  cat <<EOF
submitted: job array $array_id ($num_tasks runs, one CPU each), then the report as job $report_id when the array ends
  follow:  squeue -j $array_id,$report_id
           each run logs to $LOGS/ENV__NAME__SEED.log, Slurm's output to $SLURM_LOGS/
  report:  $OUT/table.md; failed runs are listed at the end of $SLURM_LOGS/report-$report_id.out
  cancel:  scancel $array_id $report_id (the same command submits again what did not finish)
EOF
  if ((WAIT)); then
    exec {LOCK_FD}>&- # the jobs are queued: from here on, refuse_runs_still_queued keeps them apart
    wait_for_slurm "$array_id" "$report_id"
  fi
}

still_queued() { # any of the given job ids still pending or running?
  [[ -n "$(squeue --noheader --format %i --jobs "$1" 2>/dev/null)" ]]
}

refuse_runs_still_queued() { # two tasks of the same run would write into the same folders at once
  # DIR/slurm/submitted: one line per submission, "ARRAY_ID REPORT_ID KEY...", kept while queued.
  [[ -f "$SLURM_DIR/submitted" ]] || return 0
  local line ids keys key kept=()
  while read -r -a line; do
    ((${#line[@]} >= 2)) || continue
    ids="${line[0]},${line[1]}"
    still_queued "$ids" || continue
    kept+=("${line[*]}")
    keys=" ${line[*]:2} "
    for key in "${PENDING_KEYS[@]}"; do
      [[ "$keys" != *" $key "* ]] ||
        die "$key is in the jobs ${ids/,/ } submitted before, still queued or running;" \
          "wait for them to end, or cancel them (scancel ${ids/,/ }), then submit again"
    done
  done <"$SLURM_DIR/submitted"
  if ((${#kept[@]})); then printf '%s\n' "${kept[@]}"; fi >"$SLURM_DIR/submitted"
}

wait_for_slurm() { # $1 the array, $2 the report job: waits for both, then exits as the report job did
  # shellcheck disable=SC2064 # the job ids are known now
  trap "echo 'stopped waiting; the jobs go on (scancel $1 $2 stops them)' >&2 && exit 130" INT TERM
  echo "waiting for the jobs to end"
  while still_queued "$1,$2"; do sleep 10; done
  local log="$SLURM_LOGS/report-$2.out" line state="no state (scontrol does not know the job)" code=1
  if [[ -f "$log" ]]; then cat "$log"; fi
  line="$(scontrol -o show job "$2" 2>/dev/null)" || true
  if [[ "$line" =~ JobState=([A-Z_]+)\ .*ExitCode=([0-9]+):([0-9]+) ]]; then
    state="${BASH_REMATCH[1]}"
    code="${BASH_REMATCH[2]}"
  fi
  case "$state" in
    COMPLETED) exit 0 ;;
    FAILED) exit "$((code ? code : 1))" ;; # 1: some runs failed, as ./benchmark.sh exits
    *)
      echo "benchmark.sh: the report job $2 ended with $state; see $log" >&2
      exit 1
      ;;
  esac
}

# ------------------------------------------------------------------------------------------------
# Before anything starts: the arguments that would fail every run, and one benchmark per DIR
# ------------------------------------------------------------------------------------------------
# Every environment id: one that gymnasium knows and can make, with continuous (Box) actions. One
# interpreter for all of them: importing gymnasium is most of the cost, making an environment little.
ENV_CHECK='
import sys, warnings
warnings.simplefilter("ignore")  # gymnasium deprecation notes about the -v4 environments
try:
    import gymnasium as gym
except ImportError as error:
    sys.exit(f"{sys.executable} cannot import gymnasium ({error})")
for env_id in sys.argv[1:]:
    try:
        env = gym.make(env_id)
    except Exception as error:
        known = isinstance(error, gym.error.UnregisteredEnv)
        what = "is not an environment of" if known else "cannot be made in"
        sys.exit(f"{env_id} {what} gymnasium {gym.__version__} ({str(error).rstrip(chr(46))})")
    space = env.action_space
    env.close()
    if not isinstance(space, gym.spaces.Box):
        kind = type(space).__name__.lower()
        sys.exit(f"{env_id} has {kind} actions ({space}); the variants need continuous ones (a Box action space)")
'

check_runs_can_start() { # one sentence and exit 2 for an environment or a step count no run could train on
  local problem
  problem="$("$PYTHON" -c "$ENV_CHECK" "${ENVS[@]}" 2>&1)" || die "$(tail -n 1 <<<"$problem")"
  # At least one iteration's batch. The arguments after -- come last, so theirs win.
  local batch steps steps_flag=--steps args=("${COMMON[@]}" "${EXTRA_ARGS[@]}")
  batch="$(flag_value --num-steps "${args[@]}")" || true
  if steps="$(flag_value --total-timesteps "${args[@]}")"; then steps_flag=--total-timesteps; else steps="$STEPS"; fi
  if is_count "$batch" && is_count "$steps" && ((steps < batch)); then
    die "$steps_flag $steps is less than one iteration's batch of $batch steps, so no run would train; give at least $batch"
  fi
}

lock_out() { # holds a lock on DIR until this benchmark and every run it started have ended
  local lock="$OUT/.benchmark.lock" holder
  if ! command -v flock >/dev/null; then # util-linux; on macOS: brew install flock
    echo "note: flock is not installed, so nothing keeps a second benchmark out of $OUT" >&2
    return 0
  fi
  { exec {LOCK_FD}>>"$lock"; } 2>/dev/null || die "cannot write into $OUT"
  if ! flock -n "$LOCK_FD"; then
    sleep 0.1 # the first benchmark may have taken the lock and not yet written its PID
    holder="$(cat "$lock" 2>/dev/null)"
    # The runs inherit the lock: they hold it on if their benchmark was killed outright.
    if [[ -n "$holder" ]] && ! ps -p "$holder" >/dev/null 2>&1; then holder="$holder, ended, but its runs go on"; fi
    die "$OUT is in use by another benchmark (PID ${holder:-unknown}); wait for it to end, or give another --out"
  fi
  echo "$$" >"$lock"
}

refuse_while_slurm_runs() { # the local mode: runs submitted to Slurm on DIR and still queued write there too
  [[ -f "$SLURM_DIR/submitted" ]] && command -v squeue >/dev/null || return 0
  local line
  while read -r -a line; do
    if ((${#line[@]} >= 2)) && still_queued "${line[0]},${line[1]}"; then
      die "$OUT has runs on Slurm, jobs ${line[0]} ${line[1]}, still queued or running;" \
        "wait for them to end, or cancel them (scancel ${line[0]} ${line[1]}), then start again"
    fi
  done <"$SLURM_DIR/submitted"
}

# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------
REPORT_CMD=("$PYTHON" "$SCRIPT_DIR/benchmark_report.py" --runs "$OUT/runs" --out "$OUT")
# The records of an earlier report too: the runs skipped for their record have no event files here.
if [[ -d "$OUT/records" ]]; then REPORT_CMD+=(--records "$OUT/records"); fi

if ((!REPORT_ONLY)); then
  if ((ABLATION)); then
    NUM_TOTAL=$((16 * ${#ENVS[@]} * ${#SEEDS[@]}))
  else
    NUM_TOTAL=$((${#VARIANTS[@]} * ${#ENVS[@]} * ${#SEEDS[@]}))
  fi
  check_runs_can_start
  for env in "${ENVS[@]}"; do
    family="$(paper_family "$env")"
    if [[ "$family" != "${env%-v*}" ]]; then
      echo "# note: $env is not one of the paper's environments: it gets the Hopper settings"
    fi
  done
  if ((SLURM)); then
    SLURM_PYTHON="$(command -v "$PYTHON")" || SLURM_PYTHON="$PYTHON" # the nodes need no PATH to find it
  fi
  if ((SLURM && !DRY_RUN)); then
    command -v sbatch >/dev/null ||
      die "--slurm needs Slurm's sbatch, which is not on the PATH (on a cluster, run this on a login node)"
    [[ "$SLURM_PYTHON" == /* ]] || die "PYTHON=$PYTHON is not a command here"
  fi
  summary="benchmark: $NUM_TOTAL runs of ${VARIANTS[*]} on ${ENVS[*]}, seeds ${SEEDS[*]}, $STEPS steps each,"
  if ((SLURM)); then summary+=" into $OUT, on Slurm"; else summary+=" $JOBS at a time, into $OUT"; fi
  if ((DRY_RUN)); then
    echo "# $summary"
  else
    mkdir -p "$OUT" 2>/dev/null || die "cannot create $OUT"
    lock_out
    ((SLURM)) || refuse_while_slurm_runs
    mkdir -p "$LOGS" "$OUT/runs"
    echo "$summary"
  fi

  # Seeds outermost: the first pass fills every cell of the table, so even an interrupted benchmark
  # has something to report everywhere.
  for seed in "${SEEDS[@]}"; do
    for env in "${ENVS[@]}"; do
      family="$(paper_family "$env")"
      for variant in "${VARIANTS[@]}"; do
        script="$SCRIPT_DIR/$(script_of "$variant").py"
        run=(--env-id "$env" --seed "$seed" --total-timesteps "$STEPS")
        released_config "$variant" "$family"
        if ((!ABLATION)); then
          name="$variant"
          if ((TIME_LIMIT_TERMINATES)); then
            name+=_tlterm
            CONFIG+=(--time-limit-as-termination)
          fi
          schedule "${env}__${name}__${seed}" "$script" "${run[@]}" --exp-name "$name" \
            "${CONFIG[@]}" "${EXTRA_ARGS[@]}"
          continue
        fi
        without_ablation_switches
        # 16 combinations: bit i of the combination number turns switch i on. The run's name says
        # which, e.g. ablation_clip_vloss1_scale_reward0_ortho_init1_anneal_lr0.
        for ((combination = 0; combination < 16; combination++)); do
          flags=()
          name=ablation
          for i in "${!ABLATION_SWITCHES[@]}"; do
            switch="${ABLATION_SWITCHES[$i]}"
            on=$(((combination >> i) & 1))
            if ((on)); then flags+=("--$switch"); else flags+=("--no-$switch"); fi
            name+="_${switch//-/_}$on"
          done
          # The released code clips rewards inside its reward scaler: no scaling, no clipping.
          if ((combination >> 1 & 1)); then flags+=(--clip-reward); else flags+=(--no-clip-reward); fi
          schedule "${env}__${name}__${seed}" "$script" "${run[@]}" --exp-name "$name" \
            "${CONFIG[@]}" "${flags[@]}" "${EXTRA_ARGS[@]}"
        done
      done
    done
  done
fi

if ((SLURM)); then
  submit_to_slurm
  exit 0
fi
if ((DRY_RUN)); then
  quote "${REPORT_CMD[@]}"
  exit 0
fi

if ((!REPORT_ONLY)); then
  while ((${#RUNNING[@]})); do reap_one; done
  echo "benchmark: started $NUM_STARTED, skipped $NUM_SKIPPED (finished before)," \
    "failed ${#FAILED[@]}"
fi

report_status=0
"${REPORT_CMD[@]}" || report_status=$?

if ((${#FAILED[@]})); then
  echo "failed runs (their logs are in $LOGS):" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
exit "$report_status"
