"""Run the real CLI (`python -m pipeline`) in a subprocess, as a user would."""
import glob
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_SECONDS = 300


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    summary: dict | None
    dead_letters: list


KEY_VARIABLES = ("GAINSIGHT_ACCESS_KEY", "GAINSIGHT_PX_API_KEY")


def run_cli(args, out_dir: Path, access_key: str | None = None, dead_letter: str | None = None,
            summary: bool = True, px_api_key: str | None = None) -> CliRun:
    """Runs the job with GAINSIGHT_ACCESS_KEY=access_key (and GAINSIGHT_PX_API_KEY=px_api_key);
    dead letters and summary go to out_dir."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    if access_key:
        env["GAINSIGHT_ACCESS_KEY"] = access_key
    if px_api_key:
        env["GAINSIGHT_PX_API_KEY"] = px_api_key
    summary_path = out_dir / "summary.json"
    argv = [sys.executable, "-m", "pipeline", *args,
            "--dead_letter", dead_letter or str(out_dir / "dead-letter")]
    if summary:
        argv += ["--summary", str(summary_path)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_SECONDS)
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return CliRun(done.returncode, done.stdout, done.stderr, summary, read_jsonl(f"{out_dir}/dead-letter*.jsonl"))


def read_jsonl(pattern: str) -> list:
    return [json.loads(line) for path in sorted(glob.glob(pattern))
            for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, events) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


def running(pid: int) -> bool:
    """The process runs (one that has ended but that nobody has reaped yet, a zombie, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"
