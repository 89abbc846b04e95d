#!/usr/bin/env bash
# API fuzzing with schemathesis against the OpenAPI document the server itself serves.
#
#   scripts/fuzz.sh                 # build (debug), start a server, fuzz both APIs
#   CONFAB_FUZZ_EXAMPLES=200 scripts/fuzz.sh
#
# What it does, unattended (no stdin, only PyPI needed):
#   1. a virtualenv with a pinned schemathesis under ~/.cache/confab (reused across runs);
#   2. `confab serve` on a fresh SQLite database and a free loopback port;
#   3. a signed-up user (session cookie), a tenant with an API key (`confab tenant create`),
#      and a chat for each API, so most generated requests reach real data;
#   4. `st run` on /api/openapi.json, authenticated through the document's own security
#      schemes (`session` cookie for /api/users/..., `api_key` header for /api/v1/...),
#      with the checks below; any finding fails the script (exit 1).
#
# Checks: not_a_server_error (no 5xx), status_code_conformance (every status is one the
# document lists for that operation), content_type_conformance and
# response_schema_conformance (bodies match the documented schema). Nothing is loosened:
# a finding is fixed in the server or in the document.
#
# Fixed path parameters: `user_id` is always the signed-up user (any other id is a
# documented 404, so generated ids would only ever test that answer) except for the
# tenant API's erasure, which gets a second user of its own; `chat_id` is the
# prepared chat of its API, except for the two chat deletions, which get generated ids:
# deleting the prepared chat first would turn every later request into a 404 (and chat
# ids start far above 1, for the bulk delete's generated ids). Deleting a real chat is
# covered by the integration tests and the model-based test.
#
# Environment: CONFAB_BIN (a built confab binary; default: cargo build, debug),
# CONFAB_FUZZ_EXAMPLES (examples per operation, default 100), CONFAB_FUZZ_SEED,
# CONFAB_FUZZ_VENV (where the virtualenv lives), CONFAB_FUZZ_REPORT (report directory),
# CONFAB_FUZZ_REPORTS (report formats, default junit), CONFAB_FUZZ_CHECKS (see below).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples="${CONFAB_FUZZ_EXAMPLES:-100}"
seed="${CONFAB_FUZZ_SEED:-$RANDOM$RANDOM}"
venv="${CONFAB_FUZZ_VENV:-$HOME/.cache/confab/schemathesis-$SCHEMATHESIS_VERSION}"
# CONFAB_FUZZ_CHECKS may add checks (e.g. `all` for an exploratory run); CI uses these.
checks="${CONFAB_FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"

say() { printf '==> fuzz: %s\n' "$*"; }
die() { printf 'fuzz: FATAL: %s\n' "$*" >&2; exit 1; }

# --- schemathesis ----------------------------------------------------------------------
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    command -v python3 >/dev/null || die "python3 is required"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" || die "cannot create a virtualenv (python3-venv missing?)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" </dev/null || die "pip install schemathesis failed"
fi
say "$("$venv/bin/st" --version)"

# --- the server ------------------------------------------------------------------------
if [ -z "${CONFAB_BIN:-}" ]; then
    cargo build --quiet -p confab --bin confab
    CONFAB_BIN="${CARGO_TARGET_DIR:-target}/debug/confab"
fi
[ -x "$CONFAB_BIN" ] || die "no confab binary at $CONFAB_BIN"

work=$(mktemp -d)
server_pid=""
double_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [ -n "$double_pid" ]; then kill "$double_pid" 2>/dev/null || true; wait "$double_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

database="sqlite://$work/fuzz.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$CONFAB_BIN" migrate --database-url "$database" >/dev/null
# Start chat ids far from the small integers a generator tries first, so a generated bulk
# delete (`{"chat_ids":[1]}`) does not remove the prepared chat early in the run.
python3 - "$work/fuzz.db" <<'PY' || say "warning: cannot move chat ids (no sqlite3 module?); the run goes on"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('chats', 7340032)")
db.commit()
PY
# Generated replies (SPEC §8) come from the workspace's OpenAI-compatible test double
# (crates/llm-double): any model name the fuzzer sends is answered by echoing the last
# message, so every generate runs its whole path and its reply completes.
cargo build --quiet -p llm-double --bin llm-double
double_bin="${CARGO_TARGET_DIR:-target}/debug/llm-double"
"$double_bin" 127.0.0.1:0 >"$work/double.url" 2>"$work/double.log" </dev/null &
double_pid=$!
for _ in $(seq 1 100); do [ -s "$work/double.url" ] && break; sleep 0.05; done
llm_url=$(head -1 "$work/double.url")
[ -n "$llm_url" ] || die "the LLM double did not start"
NO_COLOR=1 CONFAB_LOG="${CONFAB_LOG:-warn}" "$CONFAB_BIN" serve --listen "127.0.0.1:$port" \
    --database-url "$database" --llm-base-url "$llm_url" --llm-timeout-seconds 5 \
    --trash-days 7 \
    </dev/null 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 200); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "server exited"; }
    sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || die "server not healthy at $base"
say "server at $base (database $database)"

# --- credentials and data --------------------------------------------------------------
json='content-type: application/json'
user_id=$(curl -fsS -c "$work/cookies" -H "$json" -X POST "$base/api/auth/sign-up" \
    -d '{"email":"fuzz@example.com","password":"fuzzing is fun 123"}' | jq -er .user.id)
session=$(awk '$6 == "neptun-session" {print $7}' "$work/cookies")
[ -n "$session" ] || die "sign-up set no session cookie"
chat_id=$(curl -fsS -b "neptun-session=$session" -H "$json" -X POST \
    "$base/api/users/$user_id/chats" -d '{"name":"fuzz","model":"m"}' | jq -er .chat.id)
curl -fsS -b "neptun-session=$session" -H "$json" -X POST \
    "$base/api/users/$user_id/chats/$chat_id/messages" \
    -d '{"messages":[{"content":"hi","role":"user"},{"content":"```py\nx=1\n```","role":"assistant"}]}' >/dev/null
tenant=$("$CONFAB_BIN" tenant create fuzz-tenant --database-url "$database" </dev/null)
api_key=$(jq -er .api_key <<<"$tenant")
tenant_id=$(jq -er .tenant_id <<<"$tenant")
chat_uuid=$(curl -fsS -H "x-api-key: $api_key" -H "$json" -X POST "$base/api/v1/chats" \
    -d '{"name":"fuzz"}' | jq -er .id)
curl -fsS -H "x-api-key: $api_key" -H "$json" -X POST "$base/api/v1/chats/$chat_uuid/messages" \
    -d '{"message":"hello","actor":"user"}' >/dev/null
# Erasing a user through the tenant API takes a user of its own: the fuzz user must live.
victim_id=$(echo "fuzzing is fun 123" | "$CONFAB_BIN" user create --email victim@example.com \
    --tenant "$tenant_id" --database-url "$database" | jq -er .user_id)
say "user $user_id with chat $chat_id; tenant chat $chat_uuid; user $victim_id to erase"

# --- schemathesis configuration --------------------------------------------------------
cat >"$work/schemathesis.toml" <<EOF
[auth.openapi.session]
api_key = "$session"

[auth.openapi.api_key]
api_key = "$api_key"

[parameters]
"path.user_id" = $user_id

[[operations]]
include-path-regex = '^/api/users/\{user_id\}/chats/\{chat_id\}'
exclude-method = "DELETE"
parameters = { "path.chat_id" = $chat_id }

[[operations]]
include-path = "/api/users/{user_id}/chats/{chat_id}/messages/last"
parameters = { "path.chat_id" = $chat_id }

[[operations]]
include-path-regex = '^/api/v1/chats/\{chat_id\}'
exclude-method = "DELETE"
parameters = { "path.chat_id" = "$chat_uuid" }

[[operations]]
include-path = "/api/v1/chats/{chat_id}/messages/last"
parameters = { "path.chat_id" = "$chat_uuid" }

[[operations]]
include-path = "/api/v1/users/{user_id}"
parameters = { "path.user_id" = $victim_id }
EOF

report="${CONFAB_FUZZ_REPORT:-$work/report}"
# The chat deletions run in a second pass: in one run, the stateful phase finds the
# prepared chats in list answers and deletes them, and every request after that is a 404.
deletions=(
    "DELETE /api/users/{user_id}/chats/{chat_id}"
    "DELETE /api/users/{user_id}/chats"
    "DELETE /api/v1/chats/{chat_id}"
)
run_schemathesis() { # PASS-NAME FILTER-FLAG
    local pass=$1 flag=$2 filters=() name
    for name in "${deletions[@]}"; do filters+=("$flag" "$name"); done
    say "pass '$pass': $examples examples per operation, seed $seed"
    (cd "$work" && "$venv/bin/st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" \
        "${filters[@]}" \
        --checks "$checks" \
        --max-examples "$examples" \
        --seed "$seed" \
        --workers 1 \
        --request-timeout 30 \
        --report "${CONFAB_FUZZ_REPORTS:-junit}" --report-dir "$report/$pass" \
        --no-color </dev/null) | tee -a "$work/st.log"
    return "${PIPESTATUS[0]}"
}
status=0
run_schemathesis everything-but-chat-deletion --exclude-name || status=$?
run_schemathesis chat-deletion --include-name || status=$?
cases=$(grep -Eo '^  [0-9]+ generated' "$work/st.log" | awk '{n += $1} END {print n + 0}')
say "$cases test cases generated in all"
if grep -q 'ERROR\|panicked' "$work/server.log"; then
    say "server log errors:"
    grep 'ERROR\|panicked' "$work/server.log" | head -20 >&2
    status=1
fi
[ "$status" -eq 0 ] || die "schemathesis reported findings (exit $status); seed $seed"
say "no findings (seed $seed)"
