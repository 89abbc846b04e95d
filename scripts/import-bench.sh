#!/usr/bin/env bash
# Import and export at size (SPEC §10): throughput and peak memory.
#
#   scripts/import-bench.sh            # builds the release binary if needed
#   CONFAB_BENCH_MB=200 CONFAB_BENCH_EXPORT_CHATS=100000 scripts/import-bench.sh
#
# 1. Writes a ChatGPT export of about CONFAB_BENCH_MB megabytes (default 200):
#    conversations of 24 messages (a question/answer chain with one edited branch, code
#    blocks in the answers), ~1 KB per message, in one conversations.json.
# 2. `confab import --format chatgpt` into a fresh SQLite database, under /usr/bin/time:
#    conversations/s, MB/s and the process's peak RSS.
# 3. Imports CONFAB_BENCH_EXPORT_CHATS (default 100,000) small conversations into a
#    second database, then exports them all twice: `confab export` under /usr/bin/time,
#    and `GET /api/v1/export` from a running server (its VmHWM before and after).
#
# Everything stays in a temporary directory, removed at the end; only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

mb="${CONFAB_BENCH_MB:-200}"
export_chats="${CONFAB_BENCH_EXPORT_CHATS:-100000}"
bin="${CONFAB_BIN:-target/release/confab}"
say() { printf '==> import-bench: %s\n' "$*"; }
die() { printf 'import-bench: FATAL: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required"
[ -x /usr/bin/time ] || die "/usr/bin/time is required (Debian: apt-get install time)"
[ -x "$bin" ] || cargo build --release -p confab --bin confab
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --- the files --------------------------------------------------------------------------
read -r conversations small_count < <(python3 - "$work" "$mb" "$export_chats" <<'EOF'
import json, sys
work, mb, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
filler = ("lorem ipsum dolor sit amet consectetur " * 20)[:700]

def conversation(i, messages, text):
    mapping = {"root": {"id": "root", "parent": None, "children": ["m0"], "message": None}}
    t = 1_700_000_000 + i * 100
    for n in range(messages):
        role = "user" if n % 2 == 0 else "assistant"
        body = f"{role} {i}.{n} {text}"
        if role == "assistant":
            body += f"\n\n```python\ndef f{n}():\n    return {i}\n```\n"
        node = f"m{n}"
        children = [f"m{n+1}"] if n + 1 < messages else []
        if n == 1:
            children.append("edit")  # an edited branch beside the main chain
        mapping[node] = {"id": node, "parent": "root" if n == 0 else f"m{n-1}",
                         "children": children, "message": {
            "id": node, "author": {"role": role}, "create_time": t + n,
            "content": {"content_type": "text", "parts": [body]},
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {}}}
    if messages > 2:
        mapping["edit"] = {"id": "edit", "parent": "m1", "children": [], "message": {
            "id": "edit", "author": {"role": "user"}, "create_time": t + 2.5,
            "content": {"content_type": "text", "parts": [f"edited {i}"]}}}
    return {"id": f"bench-{i}", "title": f"Bench {i}", "create_time": t,
            "update_time": t + messages, "current_node": f"m{messages-1}",
            "default_model_slug": "gpt-4o", "mapping": mapping}

def write(path, count, messages, text, limit_bytes=None):
    written, n = 0, 0
    with open(path, "w") as out:
        out.write("[")
        while (limit_bytes and written < limit_bytes) or (not limit_bytes and n < count):
            line = json.dumps(conversation(n, messages, text))
            out.write(("," if n else "") + line)
            written += len(line) + 1
            n += 1
        out.write("]")
    return n

big = write(f"{work}/big.json", 0, 24, filler, mb * 1_000_000)
small = write(f"{work}/small.json", small, 2, "hi")
print(big, small)
EOF
)
size=$(stat -c %s "$work/big.json")
say "ChatGPT export: $((size / 1000000)) MB, $conversations conversations of 24 messages (+1 edited branch)"

timed() { # LABEL OUTPUT-FILE COMMAND...
    local label=$1 out=$2; shift 2
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$out"
    read -r seconds rss_kb <"$work/time"
    say "$label: ${seconds}s, peak RSS $((rss_kb / 1024)) MiB" >&2
    echo "$seconds $rss_kb"
}

# --- import 200 MB ----------------------------------------------------------------------
db="sqlite://$work/big.db"
"$bin" migrate --database-url "$db" >/dev/null 2>&1
read -r seconds rss_kb < <(timed "import $((size / 1000000)) MB" "$work/report.json" \
    "$bin" import --format chatgpt --database-url "$db" "$work/big.json" | tail -1)
imported=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['chats_imported'], r['messages_imported'], len(r['errors']))" "$work/report.json")
read -r chats messages errors <<<"$imported"
[ "$errors" = 0 ] || die "the import reported errors: $(head -c 500 "$work/report.json")"
say "imported $chats chats, $messages messages: $(python3 -c "print(round($chats / $seconds))") conversations/s, $(python3 -c "print(round($size / 1e6 / $seconds, 1))") MB/s, peak RSS $((rss_kb / 1024)) MiB"
read -r seconds rss_kb < <(timed "the same file again (all duplicates)" "$work/again.json" \
    "$bin" import --format chatgpt --database-url "$db" "$work/big.json" | tail -1)
say "re-import: $(python3 -c "import json; print(json.load(open('$work/again.json'))['skipped_duplicates'])") skipped in ${seconds}s"

# --- export 100,000 chats ---------------------------------------------------------------
db="sqlite://$work/many.db"
"$bin" migrate --database-url "$db" >/dev/null 2>&1
"$bin" import --format chatgpt --database-url "$db" "$work/small.json" >"$work/small-report.json"
say "export database: $(python3 -c "import json; print(json.load(open('$work/small-report.json'))['chats_imported'])") chats"
read -r seconds rss_kb < <(timed "confab export of $small_count chats" "$work/export.ndjson" \
    "$bin" export --database-url "$db" | tail -1)
lines=$(wc -l <"$work/export.ndjson")
say "confab export: $lines lines, $(( $(stat -c %s "$work/export.ndjson") / 1000000 )) MB in ${seconds}s, peak RSS $((rss_kb / 1024)) MiB"

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
key=$("$bin" key create --tenant default --database-url "$db" | python3 -c "import json,sys; print(json.load(sys.stdin)['api_key'])")
"$bin" serve --database-url "$db" --listen "127.0.0.1:$port" --api-key-rate-per-second 0 \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$server_pid/status"; }
before=$(hwm)
start=$(date +%s.%N)
curl -fsS -H "x-api-key: $key" "http://127.0.0.1:$port/api/v1/export" -o "$work/served.ndjson"
took=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
say "GET /api/v1/export: $(wc -l <"$work/served.ndjson") lines in ${took}s; server peak RSS ${before} MiB before, $(hwm) MiB after"
cmp -s "$work/export.ndjson" "$work/served.ndjson" && say "the route and the CLI wrote the same bytes"
