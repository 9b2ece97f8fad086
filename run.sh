#!/usr/bin/env bash
# ./run.sh            set up .venv if needed, then run the demo (sandbox + bundled samples)
# ./run.sh test       run the whole test suite
# ./run.sh bench ...  run the benchmarks (see bench/README.md)
# ./run.sh ARGS...    run the job: python -m pipeline ARGS
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PYTHON_BIN=${PYTHON:-$(command -v python3.11 || command -v python3)}
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
  test)  shift; exec "$PY" -m pytest -q -p no:cacheprovider "$@" ;;
  bench) shift; exec "$PY" -m bench "$@" ;;
  *)     exec "$PY" -m pipeline "$@" ;;
esac
