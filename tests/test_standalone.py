"""The README's promise to whoever copies one script into their own project: the file runs alone.

Each script is copied by itself into an empty folder and trained there for one tiny iteration, with
no path back to this repository (not its folder, not PYTHONPATH), so an import of a sibling or of a
helper module would fail here. It must print its iteration line, log to an event file and save its
checkpoint under runs/ in that folder, and write nothing else.
"""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import PRESENT, ROOT, read_scalars

ONE_ITERATION = [
    "--total-timesteps",
    "64",
    "--num-steps",
    "64",
    "--num-minibatches",
    "2",
    "--seed",
    "1",
]


@pytest.mark.parametrize("name", PRESENT)
def test_a_script_copied_alone_into_an_empty_folder_trains_one_iteration(name, tmp_path):
    script = tmp_path / f"{name}.py"
    shutil.copy(ROOT / f"{name}.py", script)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, script.name, "--env-id", "Hopper-v5", *ONE_ITERATION, "--save-model"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "iter 1/1  step 64 " in result.stdout  # the progress line of the one iteration

    # Everything it wrote is under runs/, in one run folder named after the script.
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([script.name, "runs"])
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith(f"Hopper-v5__{name}__1__")
    assert any(path.name.startswith("events.out.tfevents.") for path in run_dir.iterdir())
    assert (run_dir / f"{name}.pt").is_file()
    scalars = read_scalars(run_dir)
    assert [step for step, _ in scalars["trust_region/mean_kl"]] == [64]
    assert [step for step, _ in scalars["losses/value_loss"]] == [64]
