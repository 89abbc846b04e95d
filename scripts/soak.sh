#!/usr/bin/env bash
# Soak test: mixed load (reads, writes, delete-lasts, chat deletes, WebSockets) on a fresh
# confab server over loopback; samples RSS and latency every interval; fails on any error
# or on RSS growth past the bound. Stops by itself.
#
#   scripts/soak.sh                              # release build, 10 minutes
#   scripts/soak.sh --duration 3600 --interval 30
#   scripts/soak.sh --debug --duration 60 --interval 5 --max-rss-growth-mib 32   # CI
#
# Options after the optional --debug go to the soak binary (crates/soak):
# --duration SECONDS (600), --interval SECONDS (10), --workers N (4), --websockets N (8),
# --max-rss-growth-mib MIB (64), --database-url URL (default: a fresh SQLite file; a
# postgres:// URL must name an existing, empty database).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    shift
fi
build=(cargo build --quiet -p confab --bin confab -p confab-soak --bin soak)
[ "$profile" = release ] && build+=(--release)
"${build[@]}"
target="${CARGO_TARGET_DIR:-target}/$profile"
exec "$target/soak" --binary "$target/confab" "$@" </dev/null
