#!/usr/bin/env bash
# Starts a real Tally server (java -jar) on a Unix socket and on TCP, runs the C++ example against
# both, and checks it: exit 0, "tokens OK" (greedy = argmax, float16/bfloat16 = float32, a bad
# step refused), and the same tokens over both transports.
#   run_example.sh EXAMPLE_BINARY [SERVER_JAR]     ($TALLY_SERVER_JAR, $TALLY_JAVA override)
set -euo pipefail
example="$1"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
jar="${TALLY_SERVER_JAR:-${2:-}}"
if [[ -z "$jar" || ! -f "$jar" ]]; then
  jar="$(ls -t "$repo"/server/target/tally-server-*-all.jar 2>/dev/null | head -n 1 || true)"
fi
if [[ ! -f "$jar" ]]; then
  echo "no server jar: build it with ./mvnw -q -DskipTests -pl server -am package" >&2
  exit 1
fi

tmp="$(mktemp -d)"
"${TALLY_JAVA:-java}" -jar "$jar" serve --listen "unix:$tmp/tally.sock" --listen 127.0.0.1:0 \
  >"$tmp/server.log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || echo "server exited $?" >&2
  fi
  rm -rf "$tmp"
}
trap stop EXIT

for _ in $(seq 1 600); do
  if [[ "$(grep -c 'listening on' "$tmp/server.log")" -ge 2 ]]; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
tcp="$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/server.log" | head -n 1)"
[[ -n "$tcp" ]] || { echo "the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }

status=0
for target in "unix:$tmp/tally.sock" "$tcp"; do
  echo "== $example --target $target"
  if ! "$example" --target "$target" | tee "$tmp/out"; then status=1; fi
  grep -q '^tokens OK$' "$tmp/out" || status=1
  grep '^tokens [0-9]' "$tmp/out" > "$tmp/tokens.$([[ $target == unix:* ]] && echo unix || echo tcp)"
done
if ! cmp -s "$tmp/tokens.unix" "$tmp/tokens.tcp"; then
  echo "different tokens over the Unix socket and TCP" >&2
  status=1
fi
exit "$status"
