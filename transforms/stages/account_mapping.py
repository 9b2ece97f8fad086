"""Load the `--account_mapping` file: CSV with header `userId,accountId`, or JSONL with those keys.

>>> parse_mapping("map.csv", "userId,accountId\\nu1,0015g00000AbCdEAA1\\n")
{'u1': '0015g00000AbCdEAA1'}
"""
import csv
import io
import json
import logging
import time

from apache_beam.io.filesystems import FileSystems


class MappingError(ValueError):
    """The mapping file is unusable; str() says where and why."""


def load_mapping(path: str) -> dict:
    """{userId or anonymousId: accountId} from a local or gs:// file."""
    try:
        with FileSystems.open(path) as stream:
            text = stream.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise MappingError(f"cannot read {path}: {err}") from None
    return parse_mapping(path, text)


class MappingCache:
    """The mapping, loaded on first use and reloaded every `refresh_seconds` (None: never).

    A reload that fails keeps the previous mapping (and logs why); a first load that fails raises.
    """

    def __init__(self, path: str | None, refresh_seconds: float | None = None,
                 clock=time.monotonic, loader=None):
        self._path = path
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._loader = loader or load_mapping
        self._mapping = None
        self._loaded_at = 0.0

    def get(self) -> dict:
        if not self._path:
            return {}
        stale = (self._refresh_seconds is not None
                 and self._clock() - self._loaded_at >= self._refresh_seconds)
        if self._mapping is None or stale:
            self._reload()
        return self._mapping

    def _reload(self):
        try:
            self._mapping = self._loader(self._path)
        except MappingError as err:
            if self._mapping is None:
                raise
            logging.warning("keeping the previous account mapping: %s", err)
        self._loaded_at = self._clock()


def parse_mapping(path: str, text: str) -> dict:
    if path.endswith((".jsonl", ".json", ".ndjson")):
        rows = _jsonl_rows(path, text)
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"userId", "accountId"} <= set(reader.fieldnames):
            raise MappingError(f"{path}: the CSV header must name userId and accountId")
        rows = ((number, row) for number, row in enumerate(reader, 2))
    mapping = {}
    for number, row in rows:
        user, account = row.get("userId"), row.get("accountId")
        if user in (None, "") or account in (None, ""):
            raise MappingError(f"{path} line {number}: userId and accountId must both be set")
        mapping[str(user).strip()] = str(account).strip()
    return mapping


def _jsonl_rows(path, text):
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise MappingError(f"{path} line {number}: {err}") from None
        if not isinstance(row, dict):
            raise MappingError(f"{path} line {number}: expected an object with userId, accountId")
        yield number, row
