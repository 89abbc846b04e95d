#!/usr/bin/env bash
# usage: rss.sh BINARY PORT -> RSS before, after 40 simultaneous unknown-email logins
# (10 from each of 127.0.0.2..5), and 5 s later.
set -u
BIN=$1; PORT=$2; DIR=$(mktemp -d)
CONFAB_LOG=warn "$BIN" serve --listen 127.0.0.1:$PORT --database-url "sqlite://$DIR/rss.db" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/healthz && break; sleep 0.1; done
rss() { grep -E "^(VmRSS|VmHWM)" /proc/$PID/status | tr -s ' \t' ' ' | tr '\n' ' '; }
echo "idle:        $(rss)"
burst() {
for a in "$@"; do
  for i in $(seq 10); do
    curl -s -o /dev/null -w "%{http_code}\n" --interface 127.0.0.$a \
      -H 'content-type: application/json' \
      -d "{\"email\":\"nobody$a-$i@example.com\",\"password\":\"not the password\"}" \
      http://127.0.0.1:$PORT/api/auth/login &
  done
done > $DIR/codes
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null
}
burst 2 3 4 5
sleep 0.2
echo "after 40:    $(rss)   answers: $(sort $DIR/codes | uniq -c | tr -s ' \n' ' ')"
sleep 5
echo "5 s later:   $(rss)"
burst 6 7 8 9
sleep 0.2
echo "40 more:     $(rss)   answers: $(sort $DIR/codes | uniq -c | tr -s ' \n' ' ')"
kill $PID; wait $PID 2>/dev/null; rm -rf "$DIR"
