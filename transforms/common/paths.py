"""Paths given on the command line: a directory means "the files inside it", for outputs and inputs.

Outputs (--dead_letter, --preview, --summary): a directory (a trailing slash, or a local
directory that exists) gets the default name inside it:

>>> output_path("out/dl/", "dead-letter"), output_path("out/run1", "summary.json")
('out/dl/dead-letter', 'out/run1')
>>> output_path("gs://bucket/dl/", "dead-letter")
'gs://bucket/dl/dead-letter'

Inputs (--input): a directory reads every file below it, recursively; files and directories
whose name starts with "." are skipped there:

>>> input_pattern("samples/segment-logs")
'samples/segment-logs/**'
>>> input_pattern("gs://bucket/segment-logs/Xk3pQ9mZ2a/"), input_pattern("logs/*/*.gz")
('gs://bucket/segment-logs/Xk3pQ9mZ2a/**', 'logs/*/*.gz')
>>> is_visible("logs/d1/.part.gz.tmp", ["logs/**"]), is_visible("logs/d1/part.gz", ["logs/**"])
(False, True)
"""
import os

DIRECTORY_PATTERN = "/**"


def is_remote(path: str) -> bool:
    """gs:// (any scheme://), as opposed to a local path."""
    return "://" in path


def is_directory(path: str) -> bool:
    """A trailing slash, or a local directory that exists (gs:// has no directories to ask)."""
    return path.endswith("/") or (not is_remote(path) and os.path.isdir(path))


def output_path(value: str | None, default_name: str) -> str | None:
    """The file (or prefix) to write: `value`, or `value/default_name` for a directory."""
    if value is None or not is_directory(value):
        return value
    return value.rstrip("/") + "/" + default_name


def input_pattern(value: str) -> str:
    """The glob to match for one --input: `DIR/**` for a directory, else the value itself."""
    if not is_directory(value):
        return value
    return value.rstrip("/") + DIRECTORY_PATTERN


def is_visible(path: str, patterns) -> bool:
    """False when `path` lies below a directory input (a `DIR/**` pattern) and a file or
    directory on its way there is hidden (its name starts with ".")."""
    for pattern in patterns:
        if pattern.endswith(DIRECTORY_PATTERN):
            root = pattern[:-len(DIRECTORY_PATTERN)] + "/"
            if path.startswith(root) and any(part.startswith(".")
                                             for part in path[len(root):].split("/")):
                return False
    return True
