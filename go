#!/bin/sh
# The front door.  ./go            set up and run the nightly pipeline on the bundled demo data
#                  ./go test       set up and run linters and the test suite (CI calls this)
#                  ./go ui         set up and open the Dagster UI on http://127.0.0.1:3000
#                  ./go bench      national-scale benchmark against DuckDB alone (docs/performance.md)
# Needs only python3 (>= 3.11); everything else comes from PyPI, pinned by uv.lock.
set -eu
cd "$(dirname "$0")"
export UV_PYTHON_DOWNLOADS=never   # never let uv fetch an interpreter: use the machine's python3
# Write the bytecode of every installed package once, at setup: a command then starts in a
# second instead of compiling pandas, Dagster … again each time (where Python is told not to
# write bytecode itself, PYTHONDONTWRITEBYTECODE, that would be every time).
export UV_COMPILE_BYTECODE=1
UV_VERSION=0.13.9

if command -v uv >/dev/null 2>&1; then
  UV=uv
else
  if [ ! -x .tools/bin/uv ]; then
    echo "installing uv $UV_VERSION into .tools/ ..." >&2
    python3 -m venv .tools
    .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  UV=.tools/bin/uv
fi
"$UV" sync --frozen --quiet --python python3
# the project's own modules too (they are not installed: an editable install)
"$UV" run --frozen --no-sync python -m compileall -q -j 0 pipelines sources expectations warehouse schemas benchmarks portal >/dev/null

command=${1:-run}
[ $# -gt 0 ] && shift
case "$command" in
  run)  exec "$UV" run --frozen --no-sync bildungsmonitor run "$@" ;;
  test)
    # the tests of the HTML reports look at them in a real browser: Debian's chromium
    if ! command -v chromium >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium (Debian package) for the report tests ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q chromium >/dev/null 2>&1 ||
          { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
      else
        echo "note: the report tests need Chromium (Debian package 'chromium')" >&2
      fi
    fi
    "$UV" run --frozen --no-sync ruff check .
    "$UV" run --frozen --no-sync ruff format --check .
    "$UV" run --frozen --no-sync lint-imports   # the layering contract (pyproject.toml)
    # the whole suite runs on every core (pytest-xdist), a module's tests in one worker (they
    # share module fixtures), the longest modules first (tests/conftest.py); with arguments,
    # exactly what was asked for
    [ $# -eq 0 ] && set -- -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder
    exec "$UV" run --frozen --no-sync pytest "$@" ;;
  ui)   exec "$UV" run --frozen --no-sync bildungsmonitor ui "$@" ;;
  bench) exec "$UV" run --frozen --no-sync python -m benchmarks "$@" ;;
  *)    exec "$UV" run --frozen --no-sync bildungsmonitor "$command" "$@" ;;
esac
