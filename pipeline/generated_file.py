"""Files generated from the code (deploy/metadata.json, docs/flags.md): written, or checked.

    write_or_check(path, text, "python -m pipeline.flags_reference", ["--check"])  # 1 if stale
"""
import sys
from pathlib import Path


def write_or_check(path: Path, text: str, command: str, argv=None) -> int:
    """Writes `text` to `path` (0); with --check in argv, only compares: 1, naming `command`, when
    the file is missing or differs."""
    if "--check" in (argv if argv is not None else sys.argv[1:]):
        if not path.exists() or path.read_text() != text:
            print(f"{path} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    return 0
