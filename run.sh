#!/usr/bin/env bash
# ./run.sh              set up the venv if needed, then run the demo (sandbox + bundled samples)
# ./run.sh demo ARGS    the demo, with ARGS passed on to the job
# ./run.sh demo --stream [--rate N]   the live job over the samples through Pub/Sub (docs/streaming-emulator.md)
# ./run.sh test         run the whole test suite
# ./run.sh bench ...    run the benchmarks (see bench/README.md)
# ./run.sh ARGS...      run the job: python -m pipeline ARGS
#
# Python: $PYTHON when set, else the newest supported python3.x on PATH or under
# $(pyenv root)/versions/*/bin. A venv made with another Python is rebuilt.
# The venv is $VENV (default .venv).

SUPPORTED_MINORS="13 12 11 10"  # Python 3.x; keep in step with python_requires in setup.py

# The "3.x" of an interpreter that runs and is supported; fails otherwise (a pyenv shim of a
# version that is not selected exists on PATH but does not run).
python_minor() {
  local version minor
  version=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || return 1
  for minor in $SUPPORTED_MINORS; do
    [ "$version" = "3.$minor" ] && { echo "$version"; return 0; }
  done
  return 1
}

# The first working interpreter of Python 3.$1 on PATH, else under $PYENV_ROOT (or pyenv root).
find_python() {
  local candidate root
  root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || true)}
  for candidate in $(type -ap "python3.$1") ${root:+"$root"/versions/3."$1".*/bin/python3."$1"}; do
    if [ -x "$candidate" ] && [ "$(python_minor "$candidate")" = "3.$1" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# $PYTHON when set (it must be supported), else the newest supported Python found.
pick_python() {
  local minor
  if [ -n "${PYTHON:-}" ]; then
    if ! python_minor "$PYTHON" >/dev/null; then
      echo "PYTHON=$PYTHON does not run, or is not a Python this job supports (3.10 to 3.13)" >&2
      return 1
    fi
    echo "$PYTHON"
    return 0
  fi
  for minor in $SUPPORTED_MINORS; do
    find_python "$minor" && return 0
  done
  echo "no supported Python found (3.10 to 3.13) on PATH or under pyenv; set PYTHON=/path/to/python3.x" >&2
  return 1
}

# Whether $1 is a venv made with Python $2 ("3.x").
venv_made_with() {
  [ "$(python_minor "$1/bin/python" || true)" = "$2" ]
}

# Sourced (tests, .ci/run): only the functions above.
if (return 0 2>/dev/null); then
  return 0
fi

# The whole of it is read before it runs: editing run.sh (a git pull) during a long install or
# test run does not change what the running one does.
main() {
  cd "$(dirname "$0")"
  local VENV=${VENV:-.venv} PYTHON_BIN PYTHON_VERSION stamp PY
  PYTHON_BIN=$(pick_python)
  PYTHON_VERSION=$(python_minor "$PYTHON_BIN")
  echo "python: $PYTHON_BIN ($PYTHON_VERSION)" >&2
  if [ -e "$VENV" ] && ! venv_made_with "$VENV" "$PYTHON_VERSION"; then
    if [ ! -f "$VENV/pyvenv.cfg" ]; then
      echo "$VENV exists and is not a venv; move it away or set VENV" >&2
      exit 1
    fi
    echo "rebuilding $VENV: it was not made with Python $PYTHON_VERSION" >&2
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV (first run installs Apache Beam, about 850 MB; a few minutes)" >&2
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  # Reinstall only when setup.py changes.
  stamp="$VENV/.installed-$(sha1sum setup.py | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet -e '.[test]' >&2
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
  PY="$VENV/bin/python"

  case "${1:-}" in
    "")    exec "$PY" -m pipeline.demo ;;
    demo)  shift; exec "$PY" -m pipeline.demo "$@" ;;
    test)  shift; exec "$PY" -m pytest -q -p no:cacheprovider "$@" ;;
    bench) shift; exec "$PY" -m bench "$@" ;;
    *)     exec "$PY" -m pipeline "$@" ;;
  esac
}

set -euo pipefail
main "$@"
