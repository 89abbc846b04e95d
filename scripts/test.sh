#!/usr/bin/env bash
# The whole test suite in one command:
#
#   scripts/test.sh [nextest arguments]
#
# It prepares what the suites in other languages need, then runs
# `cargo nextest run --workspace` (PostgreSQL and Redis as README "Running the tests"
# says). Those suites run inside it, against real servers on both engines
# (crates/confab/tests/api/browser/suites.rs):
#   - clients/typescript: its Node packages (`npm ci`, from the npm registry);
#   - clients/python: a virtualenv with its dependencies and pytest (from PyPI), under
#     ~/.cache/confab/python-client (CONFAB_TEST_PYTHON points the tests at it);
#   - e2e/: Playwright's Node packages, and Chromium: Debian's `chromium` package,
#     installed with apt-get when this runs as root; otherwise install it yourself or
#     set CHROMIUM_PATH. CONFAB_TEST_SKIP_BROWSER=1 skips the browser suite on purpose
#     (never in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> test: %s\n' "$*"; }
die() { printf 'test: FATAL: %s\n' "$*" >&2; exit 1; }

command -v npm >/dev/null || die "npm (Node.js 20) is required for the client and browser suites"
command -v python3 >/dev/null || die "python3 is required for the Python client's suite"

# Node packages, installed again whenever a lock file changed.
for dir in clients/typescript e2e; do
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"; then
        say "npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null) \
            || die "npm ci failed in $dir"
        cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
    fi
done

# The Python client's dependencies (not the client itself: its tests import it from this
# checkout) in a virtualenv of their own, reinstalled when its project file changes.
venv="${CONFAB_TEST_VENV:-$HOME/.cache/confab/python-client}"
stamp="$venv/.pyproject.installed"
if ! cmp -s clients/python/pyproject.toml "$stamp" || ! "$venv/bin/python" -c 'import httpx, pydantic, pytest' 2>/dev/null; then
    say "virtualenv for the Python client's tests at $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create a virtualenv (python3-venv missing?)"
    mapfile -t requirements < <("$venv/bin/python" - <<'PY'
import tomllib
project = tomllib.load(open("clients/python/pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
PY
)
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}" </dev/null \
        || die "pip install of the Python client's dependencies failed"
    cp clients/python/pyproject.toml "$stamp"
fi
export CONFAB_TEST_PYTHON="$venv/bin/python"

# Chromium for the browser suite (browser downloads by npm packages are not used).
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ "${CONFAB_TEST_SKIP_BROWSER:-}" != 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian's chromium"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium </dev/null >/dev/null \
            || { apt-get update -q </dev/null >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium </dev/null >/dev/null; } \
            || die "cannot install chromium with apt-get"
    else
        die "Chromium is missing at $chromium: install Debian's chromium, set CHROMIUM_PATH, or set CONFAB_TEST_SKIP_BROWSER=1"
    fi
fi
[ "${CI:-}" = true ] && [ "${CONFAB_TEST_SKIP_BROWSER:-}" = 1 ] && die "CONFAB_TEST_SKIP_BROWSER=1 is not allowed with CI=true"

say "cargo nextest run --workspace $*"
exec cargo nextest run --workspace "$@"
