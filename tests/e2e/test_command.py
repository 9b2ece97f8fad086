"""The installed command, `segment-to-gainsight` (the console script setup.py declares), and
`python -m pipeline`, answering --version and --help as a user runs them; the demo passes extra
arguments on to the job."""
import subprocess
import sys
from pathlib import Path

import pipeline
from pipeline import demo
from tests.e2e.cli import ROOT

COMMAND = Path(sys.executable).parent / "segment-to-gainsight"  # in the venv running the tests
VERSION_LINE = f"segment-to-gainsight {pipeline.__version__}\n"


def run_command(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([*map(str, argv)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_installed_command_prints_its_version():
    done = run_command(COMMAND, "--version")
    assert (done.returncode, done.stdout) == (0, VERSION_LINE), done.stderr


def test_python_m_pipeline_prints_the_same_version():
    done = run_command(sys.executable, "-m", "pipeline", "--version")
    assert (done.returncode, done.stdout) == (0, VERSION_LINE), done.stderr


def test_help_is_the_jobs_own_and_short():
    done = run_command(COMMAND, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: segment-to-gainsight ")
    assert done.stdout.index("--input") < done.stdout.index("--help_beam")
    assert len(done.stdout.splitlines()) < 400  # about 60 flags of its own; Beam's own help is over 900 lines


def test_the_command_runs_the_job():
    done = run_command(COMMAND, "--input", "no/such/*.jsonl", "--preview", "out/p")
    assert done.returncode == 2
    assert "configuration error: --input: 'no/such/*.jsonl' matches no files" in done.stderr


def test_the_demo_passes_extra_arguments_to_the_job(capsys):
    assert demo.main(["--batch_size", "0"]) == 2
    assert "--batch_size: must be between 1 and 10000, got 0" in capsys.readouterr().err
