"""The port file a stand-in writes once it listens, so a parent process knows where to connect.

Written atomically (temporary file, then rename), so a reader never sees half a number.
"""
import os
from pathlib import Path


def write_port_file(path: Path, port: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{port}\n")
    os.replace(temporary, path)
