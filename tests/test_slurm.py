"""benchmark.sh --slurm, against a real Slurm.

- Without a cluster: the dry run's batch scripts and sbatch commands, and the user's mistakes.
- With one: a throwaway single-node cluster (munged, slurmctld and slurmd in a temporary folder, on
  ports of their own) runs a tiny benchmark as a job array, then the report job; a second submission
  submits nothing; a failing run is listed as failed; a refused job and a still-queued submission
  each get one sentence. Skipped where Slurm is not installed or the user is not root (the daemons
  run as root); .ci/run installs Debian's slurm-wlm and munge so that CI runs it.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT

SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
DAEMONS = {name: shutil.which(name, path=SBIN_PATH) for name in ("munged", "slurmctld", "slurmd")}
CLIENTS = {
    name: shutil.which(name) for name in ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
}
MISSING = [name for name, path in (DAEMONS | CLIENTS).items() if path is None]

# A tiny benchmark: two iterations of 1024 steps per run.
TINY = ["--envs", "Hopper-v5", "--steps", "2048"]
TINY_RUN = ["--", "--num-steps", "1024"]


def bench(*args, out, env=None, timeout=60):
    command = ["bash", str(ROOT / "benchmark.sh"), "--out", str(out), *args]
    env = (env or os.environ) | {"PYTHON": sys.executable}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


# ==================================================================================================
# Without a cluster
# ==================================================================================================
def test_dry_run_prints_one_task_per_pending_run(tmp_path):
    options = ["--jobs", "8", "--partition", "cpu", "--time-per-run", "0:40:00"]
    result = bench("--slurm", "--dry-run", *options, out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # a dry run writes nothing
    text = result.stdout
    # The default benchmark: 5 variants x 3 environments x 3 seeds, one task each.
    tasks = re.findall(r"^  (\d+)\) key=(\S+) args=\((.+)\) ;;$", text, flags=re.M)
    assert [int(i) for i, _, _ in tasks] == list(range(45))
    assert len({key for _, key, _ in tasks}) == 45
    for _, key, args in tasks:
        env_id, name, seed = key.split("__")
        parsed = shlex.split(args)
        assert Path(parsed[0]).parent == ROOT and parsed[0].endswith(".py")
        assert (
            parsed[parsed.index("--env-id") + 1] == env_id
            and parsed[parsed.index("--seed") + 1] == seed
        )
        assert parsed[parsed.index("--exp-name") + 1] == name
    assert "\nexport OMP_NUM_THREADS=1\n" in text
    array, report = [shlex.split(line) for line in text.splitlines() if line.startswith("sbatch ")]
    assert array[array.index("--array") + 1] == "0-44%8"  # --jobs: at most 8 at once
    for command in (array, report):
        assert command[command.index("--cpus-per-task") + 1] == "1"
        assert command[command.index("--partition") + 1] == "cpu"
        assert command[command.index("--time") + 1] == "0:40:00"
    assert array[-1] == str(tmp_path / "slurm" / "array.sh")
    # The report waits for the whole array, failed tasks included.
    assert (
        report[report.index("--dependency") + 1] == "afterany:ARRAY_ID" and report[-1] == "ARRAY_ID"
    )


def test_dry_run_leaves_out_finished_runs(tmp_path):
    one_run = ["--dry-run", "--variants", "ppo_m", "--envs", "Hopper-v5", "--seeds", "1 2"]
    local = bench(*one_run, out=tmp_path).stdout.splitlines()
    tokens = shlex.split(next(line for line in local if line.startswith("( cd ")))
    # The marker that the local mode and the Slurm tasks write: the command without the interpreter.
    (tmp_path / "logs").mkdir()
    marker_text = shlex.join([Path(tokens[6]).name, *tokens[7 : tokens.index(")")]])
    (tmp_path / "logs" / "Hopper-v5__ppo_m__1.done").write_text(marker_text + "\n")
    text = bench("--slurm", *one_run, out=tmp_path).stdout
    assert "# 1 of 2 runs to submit (1 finished before)" in text
    assert re.findall(r"^  \d+\) key=(\S+)", text, flags=re.M) == ["Hopper-v5__ppo_m__2"]
    assert "--array 0-0 " in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--wait"], "--wait is an option of --slurm"),
        (["--partition", "cpu"], "are options of --slurm"),
        (["--slurm", "--report-only"], "--report-only runs the report here; leave out --slurm"),
        (["--slurm", "--time-per-run", "an hour"], "--time-per-run takes sbatch's --time format"),
    ],
)
def test_bad_slurm_options_give_one_sentence(tmp_path, args, message):
    result = bench("--dry-run", *args, out=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_without_sbatch_one_sentence(tmp_path):
    # A PATH with every command of this machine but Slurm's.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(":"):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            if tool.name not in CLIENTS and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    env = os.environ | {"PATH": str(bin_dir)}
    result = bench("--slurm", "--variants", "ppo_m", *TINY, out=tmp_path / "out", env=env)
    assert result.returncode == 2
    assert "--slurm needs Slurm's sbatch, which is not on the PATH" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_local_benchmark_refused_while_runs_on_slurm_are_queued(tmp_path):
    # A submission still queued (a stand-in squeue lists its jobs) writes into the same folder.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "squeue").write_text("#!/bin/sh\necho 11\n")
    (fake_bin / "squeue").chmod(0o755)
    out = tmp_path / "out"
    (out / "slurm").mkdir(parents=True)
    (out / "slurm" / "submitted").write_text("11 12 Hopper-v5__ppo_m__1\n")
    env = os.environ | {"PATH": f"{fake_bin}:{os.environ['PATH']}"}
    result = bench("--variants", "ppo_m", "--seeds", "2", *TINY, out=out, env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"benchmark.sh: {out} has runs on Slurm, jobs 11 12, still queued or running; "
        "wait for them to end, or cancel them (scancel 11 12), then start again\n"
    )
    assert not (out / "logs").exists()


# ==================================================================================================
# A throwaway single-node cluster
# ==================================================================================================
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(folder: Path, node: str, cpus: int, memory: int) -> str:
    return f"""\
ClusterName=benchtest
SlurmctldHost={node}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={folder}/munge/munge.socket
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName={node} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def stop(pid_file: Path):
    """Stops a daemon by the process id it wrote, and waits until it has gone."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.1)


@pytest.fixture
def cluster():
    """A one-node Slurm cluster in a temporary folder, stopped and removed at the end. Yields the
    environment that points Slurm's commands at it."""
    start = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="slurm-test-"))
    folder.chmod(0o755)  # munged refuses a socket folder that is not world-executable
    munge = folder / "munge"
    env = os.environ | {"SLURM_CONF": str(folder / "slurm.conf")}
    try:
        for sub in ("munge", "state", "spool", "out"):
            (folder / sub).mkdir(mode=0o755)
        (munge / "munge.key").write_bytes(os.urandom(1024))
        (munge / "munge.key").chmod(0o600)
        files = [f"--key-file={munge}/munge.key", f"--socket={munge}/munge.socket"]
        files += [f"--{name}-file={munge}/munged.{name}" for name in ("log", "pid", "seed")]
        subprocess.run([DAEMONS["munged"], "--force", *files], check=True)

        node = socket.gethostname().split(".")[0]
        hardware = subprocess.run(
            [DAEMONS["slurmd"], "-C"], capture_output=True, text=True, check=True
        ).stdout
        cpus = int(re.search(r"CPUs=(\d+)", hardware)[1])
        memory = min(1000, int(re.search(r"RealMemory=(\d+)", hardware)[1]))
        (folder / "slurm.conf").write_text(slurm_conf(folder, node, cpus, memory))
        subprocess.run([DAEMONS["slurmctld"]], env=env, check=True)
        subprocess.run([DAEMONS["slurmd"]], env=env, check=True)
        for _ in range(300):
            states = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True
            ).stdout
            if states.strip() == "idle":
                break
            time.sleep(0.1)
        else:
            logs = "".join(
                (folder / f"{d}.log").read_text()[-2000:] for d in ("slurmctld", "slurmd")
            )
            pytest.fail(f"the test cluster did not come up: sinfo says {states!r}\n{logs}")
        print(f"\nthe cluster started in {time.monotonic() - start:.1f} s")
        yield folder, env
    finally:
        # Cancel every job first, then stop slurmd, which would otherwise leave its tasks running.
        jobs = subprocess.run(
            ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True
        ).stdout.split()
        if jobs:
            subprocess.run(["scancel", *jobs], env=env)
            for _ in range(200):
                if not subprocess.run(
                    ["squeue", "-h"], env=env, capture_output=True, text=True
                ).stdout.strip():
                    break
                time.sleep(0.1)
        for pid_file in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            stop(folder / pid_file)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(bool(MISSING), reason=f"Slurm is not installed ({', '.join(MISSING)} missing)")
@pytest.mark.skipif(os.geteuid() != 0, reason="the test cluster's daemons run as root")
def test_benchmark_on_a_real_slurm_cluster(cluster):
    folder, env = cluster
    out = folder / "out"
    start = time.monotonic()

    # Two variants x two seeds as one array, then the report; --wait returns when the report
    # has run.
    runs = ["--variants", "ppo_continuous ppo_m", "--seeds", "1 2"]
    first = bench("--slurm", "--wait", *runs, *TINY, *TINY_RUN, out=out, env=env, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    array_id = re.search(r"submitted: job array (\d+) \(4 runs", first.stdout)[1]
    keys = {
        f"Hopper-v5__{variant}__{seed}"
        for variant in ("ppo_continuous", "ppo_m")
        for seed in (1, 2)
    }
    assert {p.name.removesuffix(".done") for p in (out / "logs").glob("*.done")} == keys
    tasks = subprocess.run(
        ["scontrol", "-o", "show", "job", array_id], env=env, capture_output=True, text=True
    )
    tasks = tasks.stdout.splitlines()
    assert len(tasks) == 4
    for task in tasks:
        assert "JobState=COMPLETED" in task and " NumCPUs=1 " in task, task
    table = (out / "table.md").read_text()
    assert "PPO-M" in table and re.search(r"\bPPO\b(?!-)", table)
    # The report job's log, printed by --wait.
    assert "benchmark: 4 of 4 runs of array" in first.stdout
    print(f"\ncluster up and a 4-run array with its report: {time.monotonic() - start:.0f} s")

    # Everything finished: the same command submits nothing.
    again = bench("--slurm", *runs, *TINY, *TINY_RUN, out=out, env=env)
    assert again.returncode == 0, again.stderr
    assert "all 4 runs finished before; nothing to submit" in again.stdout
    queued = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout
    assert queued.strip() == ""

    # A run that fails: 1024 samples do not divide into 3 minibatches, which the script refuses.
    failing = bench(
        "--slurm", "--wait", "--variants", "ppo_m", "--seeds", "3", *TINY, *TINY_RUN,
        "--num-minibatches", "3", out=out, env=env, timeout=600,
    )  # fmt: skip
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert re.search(
        r"failed runs .*\n  Hopper-v5__ppo_m__3: FAILED, exit status 2; logs: ", failing.stdout
    )
    assert "benchmark: 0 of 1 runs of array" in failing.stdout
    log = (out / "logs" / "Hopper-v5__ppo_m__3.log").read_text().splitlines()
    # The command, then the script's complaint.
    assert log[0].startswith("# ppo_m.py ") and len(log) > 1
    assert not (out / "logs" / "Hopper-v5__ppo_m__3.done").exists()
    # The report still ran, on the runs that finished.
    assert "PPO-M" in (out / "table.md").read_text()
    # Submitted again, only the missing run would go.
    retry = bench(
        "--slurm", "--dry-run", "--variants", "ppo_m", "--seeds", "1 2 3", *TINY, *TINY_RUN, out=out
    )
    assert re.findall(r"^  \d+\) key=(\S+)", retry.stdout, flags=re.M) == ["Hopper-v5__ppo_m__3"]

    # The cluster refuses a job: one sentence.
    refused = bench(
        "--slurm",
        "--partition",
        "nosuch",
        "--variants",
        "ppo_m",
        "--seeds",
        "4",
        *TINY,
        out=out,
        env=env,
    )
    assert refused.returncode == 2
    assert (
        refused.stderr.startswith("benchmark.sh: Slurm refused the job array: ")
        and "partition" in refused.stderr
    )
    assert len(refused.stderr.splitlines()) == 1

    # A run still queued (held here) is not submitted a second time; other runs are.
    held = ["--slurm", "--sbatch-args", "--hold", "--variants", "ppo_m", *TINY]
    assert bench(*held, "--seeds", "4", out=out, env=env).returncode == 0
    twice = bench(*held, "--seeds", "4 5", out=out, env=env)
    assert twice.returncode == 2 and len(twice.stderr.splitlines()) == 1
    assert re.match(
        r"benchmark.sh: Hopper-v5__ppo_m__4 is in the jobs \d+ \d+ submitted before", twice.stderr
    )
    other = bench(*held, "--seeds", "5", out=out, env=env)
    assert other.returncode == 0 and "submitted: job array" in other.stdout, other.stderr
    print(f"the whole test, from the cluster's start: {time.monotonic() - start:.0f} s")
