"""Project hygiene that CI must hold: ruff is clean, and CI runs the README's own test command."""

import re
import shutil
import subprocess

import pytest
from conftest import ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("command", [["ruff", "check", "."], ["ruff", "format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    install_and_test = commands[1]  # the README's second command: install and run the tests
    assert "pytest" in install_and_test and "pip install -r requirements.txt" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_no_tracked_file_names_a_folder_outside_the_repository():
    # Spelled in two parts, so that this file does not match itself.
    needle = "../" + "shared"
    result = subprocess.run(
        ["git", "grep", "-n", "-F", needle], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode not in (0, 1):
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    assert result.stdout == "", f"tracked files name {needle}:\n{result.stdout}"


def test_readme_fits_in_250_lines_with_its_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    # The two set-up commands are the first code blocks, before the first section.
    first_section = readme.index("\n## ")
    commands = list(re.finditer(r"```bash\n(.+?)\n```", readme))
    assert all(m.start() < first_section for m in commands[:2])
    assert all(m[1].startswith("python3 -m venv .venv && ") for m in commands[:2])


def test_the_report_is_at_most_1000_lines_with_the_modules_of_ours_it_imports():
    import ast

    counted, todo = set(), ["benchmark_report"]
    while todo:  # every module of this repository that the report imports, directly or not
        name = todo.pop()
        if name in counted or not (ROOT / f"{name}.py").is_file():
            continue
        counted.add(name)
        for node in ast.walk(ast.parse((ROOT / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                todo += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                todo.append(node.module.split(".")[0])
    assert counted == {"benchmark_report", "report_stats"}
    lines = sum(len((ROOT / f"{name}.py").read_text().splitlines()) for name in counted)
    assert lines <= 1000, f"the report's Python is {lines} lines"
