"""Checkpoints and evaluate.py: a checkpoint is written whole or not at all, a failed save, a bad
file or name is one sentence, an evaluation says what it runs, logs apart from earlier ones,
survives a read-only folder, stops at Ctrl-C with the episodes it finished, and reads the committed
older checkpoints."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, TINY, load, read_scalars, run_dirs, run_script


@pytest.fixture(
    scope="module", params=["ppo_m", "trpo_plus"]
)  # one minimal, one full; the code is shared
def trained(request, tmp_path_factory):
    """(variant, checkpoint path) of a tiny Hopper-v5 run with --save-model."""
    cwd = tmp_path_factory.mktemp(request.param)
    result = run_script(request.param, *TINY, "--save-model", cwd=cwd)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_dirs(cwd)
    return request.param, run_dir / f"{request.param}.pt"


def one_sentence(result, *mentioned):
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(m in lines[0] for m in mentioned), lines[0]


def test_an_exp_name_with_a_slash_is_refused_before_training(variant, tmp_path):
    result = run_script(variant, "--exp-name", "sweep/lr1", "--save-model", cwd=tmp_path)
    one_sentence(result, "--exp-name", "sweep/lr1")
    assert not (tmp_path / "runs").exists()


def save_part_then_fail(obj, f, *args, **kwargs):
    """torch.save onto a disk that fills: some bytes written, then a RuntimeError (no OSError)."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            file.write(b"PK\x03\x04 a partial checkpoint")
    else:
        f.write(b"PK\x03\x04 a partial checkpoint")
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")


@pytest.mark.parametrize("before", [None, b"the previous checkpoint"], ids=["new", "overwrite"])
def test_a_save_that_fails_midway_leaves_nothing_at_the_path(before, tmp_path, monkeypatch, capsys):
    """Whole or not at all, also as root: no permission is involved. The path keeps what it held
    (nothing, or the previous checkpoint, untouched), no temporary file is left, and the failure
    is one sentence and exit status 1."""
    module = load("ppo_m")
    path = tmp_path / "model.pt"
    if before is not None:
        path.write_bytes(before)
    monkeypatch.setattr(torch, "save", save_part_then_fail)
    with pytest.raises(SystemExit) as exit:
        module.save_checkpoint({"weights": torch.ones(3)}, str(path))
    assert exit.value.code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if before is None else ["model.pt"])
    if before is not None:
        assert path.read_bytes() == before
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot save the model to {path}: [enforce fail")


def test_a_save_into_a_folder_that_is_a_file_is_one_sentence(tmp_path, capsys):
    module = load("trpo_plus")
    (tmp_path / "runs").write_text("")
    path = tmp_path / "runs" / "model.pt"
    with pytest.raises(SystemExit) as exit:
        module.save_checkpoint({"weights": torch.ones(3)}, str(path))
    assert exit.value.code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: cannot save the model to {path}: Not a directory"


def test_a_save_writes_the_checkpoint_whole(tmp_path):
    module = load("ppo_m")
    path = tmp_path / "model.pt"
    path.write_bytes(b"the previous checkpoint")
    module.save_checkpoint({"weights": torch.arange(5.0)}, str(path))
    assert torch.equal(torch.load(path, weights_only=True)["weights"], torch.arange(5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


@pytest.mark.parametrize(
    "content,mentioned",
    [
        (None, "no checkpoint at"),
        (b"this is not a checkpoint", "truncated or foreign"),
        ("truncated", "truncated or foreign"),
        (torch.zeros(3), "holds a Tensor, not a checkpoint"),
        ({"script": "cleanrl.py", "args": {"env_id": "Hopper-v5"}, "actor": {}}, "none of"),
    ],
    ids=["missing", "garbage", "truncated", "bare tensor", "foreign script"],
)
def test_a_bad_checkpoint_is_one_sentence(trained, content, mentioned, tmp_path):
    path = tmp_path / "bad.pt"
    if content == "truncated":
        path.write_bytes(trained[1].read_bytes()[:1000])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    one_sentence(run_script("evaluate", str(path), cwd=tmp_path), "bad.pt", mentioned)


def test_evaluation_names_its_script_and_environment_and_logs_apart(trained, tmp_path):
    variant, path = trained
    run_dir = path.parent
    for _ in range(2):
        result = run_script("evaluate", str(path), "--episodes", "3", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"evaluating {path} ({variant}.py) on Hopper-v5, as trained" in result.stdout
        time.sleep(1)  # the folders are named by the second
    last = run_script("evaluate", str(path), "--episodes", "1", cwd=tmp_path).stdout
    assert "eval/episodic_return" not in read_scalars(
        run_dir
    )  # the training run's log is untouched
    folders = sorted(p for p in run_dir.iterdir() if re.fullmatch(rf"{variant}__eval__\d+", p.name))
    assert [len(read_scalars(f)["eval/episodic_return"]) for f in folders] == [3, 3, 1]
    assert f"eval scalars logged to {folders[-1]}" in last


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody can write to, root included (chattr +i), or a skip where the disk cannot."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def make_read_only(folder):
    folder.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    try:
        (folder / "probe").write_text("")
    except OSError:
        return
    (folder / "probe").unlink()
    pytest.skip("cannot make a read-only folder on this file system")


def test_a_read_only_folder_gets_the_result_and_a_note(trained, read_only, tmp_path):
    variant, path = trained
    (read_only / path.name).write_bytes(path.read_bytes())
    make_read_only(read_only)
    result = run_script("evaluate", str(read_only / path.name), "--episodes", "2", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert re.search(r"^eval: 2 episodes, return", result.stdout, re.M)
    assert "note: the eval scalars were not logged" in result.stdout
    filmed = run_script("evaluate", str(read_only / path.name), "--capture-video", cwd=tmp_path)
    if "cannot render" not in filmed.stderr:  # with no OpenGL backend, that sentence comes first
        one_sentence(filmed, "cannot write videos next to the checkpoint")


def interrupt_evaluation(command, cwd, after):
    """Starts command, sends Ctrl-C five seconds after a stdout line starting with `after`;
    returns (code, stdout)."""
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(after):
            break
    time.sleep(5)  # well inside the evaluation of 100,000 episodes
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=600)
    assert "Traceback" not in stderr, stderr
    return process.returncode, "".join(seen) + stdout


def test_ctrl_c_stops_an_evaluation_with_the_episodes_so_far(trained, tmp_path):
    variant, path = trained
    command = [str(ROOT / "evaluate.py"), str(path), "--episodes", "100000"]
    code, stdout = interrupt_evaluation(command, tmp_path, "evaluating")
    assert code == 130
    assert re.search(
        r"^eval: [1-9]\d* episodes, return .* \(stopped by Ctrl-C, of 100000\)$", stdout, re.M
    )
