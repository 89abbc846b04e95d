#!/usr/bin/env bash
# Runs the end-to-end suite by hand: starts the LLM double and a fresh SQLite confab
# server on a free port from the built binaries, runs Playwright against it, stops both.
# Build first: cargo build -p confab --bin confab -p llm-double (debug) or set BIN_DIR.
# Extra arguments go to `playwright test` (e.g. ./run-local.sh tests/auth.spec.js).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin_dir="${BIN_DIR:-$here/../target/debug}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for WHAT PID LOG CHECK...: waits up to 10 s for CHECK to pass; if the process
# PID ends first, or the time runs out, says so with the end of LOG and gives up.
wait_for() {
  local what="$1" pid="$2" log="$3"
  shift 3
  for _ in $(seq 100); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  "$@" && return 0
  if kill -0 "$pid" 2>/dev/null; then
    echo "$what was not ready within 10 s; the end of its log ($log):" >&2
  else
    echo "$what exited before it was ready; the end of its log ($log):" >&2
  fi
  tail -40 "$log" >&2
  exit 1
}

for bin in confab llm-double; do
  [ -x "$bin_dir/$bin" ] || { echo "missing $bin_dir/$bin: build it first" >&2; exit 1; }
done

"$bin_dir/llm-double" 127.0.0.1:0 > "$work/double.url" 2> "$work/double.log" &
pids+=($!)
wait_for "the LLM double" "$!" "$work/double.log" test -s "$work/double.url"
double_url="$(head -1 "$work/double.url")"

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
db="sqlite://$work/db.sqlite"
"$bin_dir/confab" migrate --database-url "$db" > "$work/migrate.log" 2>&1 ||
  { echo "confab migrate failed:" >&2; cat "$work/migrate.log" >&2; exit 1; }
"$bin_dir/confab" serve --listen "127.0.0.1:$port" --database-url "$db" \
  --llm-base-url "$double_url" --llm-default-model count-30-40 > "$work/server.log" 2>&1 &
pids+=($!)
export CONFAB_URL="http://127.0.0.1:$port"
wait_for "the confab server" "$!" "$work/server.log" curl -fs -o /dev/null "$CONFAB_URL/"

cd "$here"
[ -d node_modules ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci
status=0
npx playwright test "$@" || status=$?
[ "$status" = 0 ] || { echo "--- server log (last 40 lines)"; tail -40 "$work/server.log"; }
exit "$status"
