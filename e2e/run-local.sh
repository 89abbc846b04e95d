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

for bin in confab llm-double; do
  [ -x "$bin_dir/$bin" ] || { echo "missing $bin_dir/$bin: build it first" >&2; exit 1; }
done

"$bin_dir/llm-double" 127.0.0.1:0 > "$work/double.url" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/double.url" ] && break; sleep 0.1; done
double_url="$(head -1 "$work/double.url")"

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
db="sqlite://$work/db.sqlite"
"$bin_dir/confab" migrate --database-url "$db" > "$work/migrate.log"
"$bin_dir/confab" serve --listen "127.0.0.1:$port" --database-url "$db" \
  --llm-base-url "$double_url" --llm-default-model count-30-40 > "$work/server.log" 2>&1 &
pids+=($!)
export CONFAB_URL="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs -o /dev/null "$CONFAB_URL/" && break; sleep 0.1; done

cd "$here"
[ -d node_modules ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci
status=0
npx playwright test "$@" || status=$?
[ "$status" = 0 ] || { echo "--- server log (last 40 lines)"; tail -40 "$work/server.log"; }
exit "$status"
