"""--transform FILE.py:FUNCTION: the user's own Python function, called with each event about to
be sent (after AttachAccountId, so it sees the accountId).

    def redact(event):                 # in my_transform.py, given as my_transform.py:redact
        if event.get("userId", "").startswith("test-"):
            return None                # not sent: counted dropped_by_transform
        event.get("traits", {}).pop("email", None)
        return event                   # sent as returned

>>> source = "def f(event):\\n    return None if event['n'] > 1 else dict(event, seen=True)\\n"
>>> spec = TransformSpec(source, "t.py", "f")
>>> f = load_function(spec)
>>> [apply_transform(f, {"type": "track", "messageId": "m", "n": n}) for n in (1, 2)]
[({'type': 'track', 'messageId': 'm', 'n': 1, 'seen': True}, None), (None, None)]
>>> apply_transform(f, {"type": "track", "messageId": "m"})
(None, "KeyError: 'n'")
>>> apply_transform(lambda e: dict(e, tags={"a"}), {"type": "track", "messageId": "m"})[1][:55]
"TypeError: the transform's event cannot be written as J"

The function returns the event (changed or not) to send it, None to drop it; an exception, or a
return of anything else (an event whose `type` or `messageId` changed, or that JSON cannot
hold), puts the event as it
reached the function in the dead letter with the reason, and the job goes on. The file's source
travels inside the job (TransformSpec), so Dataflow's workers run it without an install; the
modules it imports must be on the workers (the standard library and the job's own dependencies
are).
"""
import hashlib
import sys
import types
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms.common import counters, tags
from transforms.common.jsonio import pack, unpack
from transforms.outputs.dead_letter import dead_letter_record

STAGE = "transform"


class TransformError(ValueError):
    """A --transform that cannot be loaded; str() says why."""


@dataclass(frozen=True)
class TransformSpec:
    """The transform as it travels with the job: the file's source, its name (for tracebacks),
    the function's name."""
    source: str
    filename: str
    function: str


def read_spec(value: str) -> TransformSpec:
    """'FILE.py:FUNCTION' (local or gs://) -> the spec, its function loaded once to check it;
    TransformError when the file cannot be read or loaded or has no such function."""
    path, _, name = value.rpartition(":")
    if not path or not name or not path.endswith(".py") or not name.isidentifier():
        raise TransformError(f"expected FILE.py:FUNCTION, got {value!r}")
    try:
        with FileSystems.open(path) as handle:
            source = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TransformError(f"cannot read {path}: {err}") from None
    except Exception as err:  # pylint: disable=broad-except  (gs:// errors of every kind)
        raise TransformError(f"cannot read {path}: {type(err).__name__}: {err}") from None
    spec = TransformSpec(source, path, name)
    load_function(spec)
    return spec


def load_function(spec: TransformSpec):
    """Runs the file's source as a module of its own and returns the function; TransformError
    for a syntax error, an import that fails, a module that raises, or no such function."""
    digest = hashlib.sha1(spec.source.encode("utf-8")).hexdigest()[:12]
    module = types.ModuleType(f"segment_transform_{digest}")   # one per source: no clash
    module.__file__ = spec.filename
    try:
        code = compile(spec.source, spec.filename, "exec")
    except SyntaxError as err:
        raise TransformError(f"{spec.filename}, line {err.lineno}: SyntaxError: {err.msg}") from None
    sys.modules.setdefault(module.__name__, module)   # for dataclasses and the like inside it
    try:
        exec(code, module.__dict__)  # pylint: disable=exec-used  (the user's own code, by design)
    except ImportError as err:
        raise TransformError(f"{spec.filename}: {type(err).__name__}: {err} (the module must be "
                             "installed where the job runs)") from None
    except Exception as err:  # pylint: disable=broad-except
        raise TransformError(f"{spec.filename}: loading it raised {type(err).__name__}: {err}") from None
    function = module.__dict__.get(spec.function)
    if not callable(function):
        raise TransformError(f"{spec.filename} defines no function {spec.function!r}")
    return function


def apply_transform(function, event: dict) -> tuple:
    """(event to send, None), (None, None) when the function drops it, or (None, reason) for
    the dead letter: 'ExceptionType: message'. The function gets its own copy of the event."""
    try:
        result = function(unpack(pack(event)))
    except (Exception, SystemExit) as err:  # pylint: disable=broad-except  (never the job's end)
        return None, f"{type(err).__name__}: {err}"
    if result is None:
        return None, None
    if not isinstance(result, dict):
        return None, (f"TypeError: the transform returned {type(result).__name__}; expected the "
                      "event (a dict) or None")
    if result.get("messageId") != event.get("messageId") or result.get("type") != event.get("type"):
        return None, ("ValueError: the transform's event must keep its messageId and its type "
                      f"({event.get('type')!r})")
    try:   # what is sent is JSON: a value JSON cannot hold (a set, an object) fails here, not in the sink
        return unpack(pack(result)), None
    except (TypeError, ValueError) as err:
        return None, f"TypeError: the transform's event cannot be written as JSON: {err}"


def transform_step(spec: TransformSpec):
    """-> run(event, count) -> (event to send, None), (None, None) when the function dropped it
    (counted dropped_by_transform), or (None, dead-letter record with stage "transform")
    (counted dead_lettered). The one rule TransformFn and the batch path's last step
    (transforms.stages.enrich) apply."""
    function = load_function(spec)

    def run(event: dict, count) -> tuple:
        sent, reason = apply_transform(function, event)
        if sent is not None:
            return sent, None
        if reason is None:
            count(counters.DROPPED_BY_TRANSFORM)
            return None, None
        count(counters.DEAD_LETTERED)
        return None, dead_letter_record(STAGE, reason, event=event)
    return run


class TransformFn(counters.CountingDoFn):
    """Streaming: event -> the transform's event; DEAD_LETTER: its failures."""

    def __init__(self, spec: TransformSpec):
        self._spec = spec

    def setup(self):
        self._run = transform_step(self._spec)

    def process(self, event):
        sent, record = self._run(event, self.count)
        if sent is not None:
            yield sent
        elif record is not None:
            yield beam.pvalue.TaggedOutput(tags.DEAD_LETTER, record)


class ApplyTransform(beam.PTransform):
    """Events about to be sent -> {MAIN: the transform's events, DEAD_LETTER: its failures}."""

    def __init__(self, spec: TransformSpec):
        super().__init__()
        self._spec = spec

    def expand(self, events):
        results = events | beam.ParDo(TransformFn(self._spec)).with_outputs(tags.DEAD_LETTER, main=tags.MAIN)
        return {tags.MAIN: results[tags.MAIN], tags.DEAD_LETTER: results[tags.DEAD_LETTER]}
