"""run.sh's choice of Python, through its own functions (run.sh sourced: functions only), with
a PATH and a pyenv root made for each test. A fake interpreter answers the one question run.sh
asks (its version); a fake pyenv shim fails as one does for a version that is not selected."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS_MINOR = "%d.%d" % sys.version_info[:2]


def fake_python(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def fake_shim(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    path.chmod(0o755)
    return path


def run_sh(tmp_path, call: str, python: str = "", path=()) -> subprocess.CompletedProcess:
    env = {"PATH": os.pathsep.join(str(p) for p in path) or str(tmp_path / "empty"),
           "PYENV_ROOT": str(tmp_path / "pyenv"), "PYTHON": python}
    return subprocess.run(["/bin/bash", "-c", f'source "$1"; {call}', "bash", str(ROOT / "run.sh")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_newest_supported_python_that_runs_is_chosen(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_shim(bin_dir, "python3.13")
    fake_python(bin_dir, "python3.12", "3.12")
    fake_python(bin_dir, "python3.11", "3.11")
    fake_python(bin_dir, "python3.14", "3.14")  # not supported (setup.py says < 3.14)
    done = run_sh(tmp_path, "pick_python", path=[bin_dir])
    assert (done.returncode, done.stdout) == (0, f"{bin_dir}/python3.12\n"), done.stderr


def test_pyenv_versions_are_searched_too(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir, "python3.11", "3.11")
    pyenv_python = fake_python(tmp_path / "pyenv" / "versions" / "3.13.0" / "bin", "python3.13", "3.13")
    done = run_sh(tmp_path, "pick_python", path=[bin_dir])
    assert done.stdout == f"{pyenv_python}\n", done.stderr


def test_a_python_that_claims_another_version_is_not_taken_for_its_name(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir, "python3.13", "3.9")
    fake_python(bin_dir, "python3.10", "3.10")
    done = run_sh(tmp_path, "pick_python", path=[bin_dir])
    assert done.stdout == f"{bin_dir}/python3.10\n", done.stderr


def test_PYTHON_wins_over_a_newer_one(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir, "python3.13", "3.13")
    chosen = fake_python(tmp_path / "elsewhere", "python", "3.10")
    done = run_sh(tmp_path, "pick_python", python=str(chosen), path=[bin_dir])
    assert done.stdout == f"{chosen}\n", done.stderr


def test_an_unsupported_PYTHON_is_refused_with_the_supported_range(tmp_path):
    old = fake_python(tmp_path / "elsewhere", "python", "3.9")
    done = run_sh(tmp_path, "pick_python", python=str(old))
    assert done.returncode != 0 and done.stdout == ""
    assert "3.10 to 3.13" in done.stderr


def test_no_supported_python_says_how_to_name_one(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_shim(bin_dir, "python3.12")
    done = run_sh(tmp_path, "pick_python", path=[bin_dir])
    assert done.returncode != 0 and "PYTHON=" in done.stderr


def test_the_real_interpreter_is_found_and_its_version_read(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / f"python{THIS_MINOR}").symlink_to(os.path.realpath(sys.executable))
    done = run_sh(tmp_path, 'python="$(pick_python)" && echo "$python" && python_minor "$python"',
                  path=[bin_dir])
    assert done.stdout == f"{bin_dir}/python{THIS_MINOR}\n{THIS_MINOR}\n", done.stderr


def test_a_venv_is_recognised_by_the_python_it_was_made_with(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    other = "3.10" if THIS_MINOR != "3.10" else "3.11"
    same = run_sh(tmp_path, f'venv_made_with "{venv}" {THIS_MINOR}')
    different = run_sh(tmp_path, f'venv_made_with "{venv}" {other}')
    missing = run_sh(tmp_path, f'venv_made_with "{tmp_path}/none" {THIS_MINOR}')
    assert (same.returncode, different.returncode != 0, missing.returncode != 0) == (0, True, True)
