#!/usr/bin/env bash
# Builds the JMH jar and runs the kernel benchmarks on the newest JDK present (one core: -t 1).
# Usage: bench/run-jmh.sh [JMH options], e.g. bench/run-jmh.sh -p vocab=128256 -p dtype=FLOAT32
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(cd "$root" && ./mvnw -B -q -DskipTests -pl bench -am package)
java_bin="${TALLY_JAVA:-$(ls -d /usr/lib/jvm/temurin-25*/bin/java 2>/dev/null | head -n 1)}"
java_bin="${java_bin:-java}"
exec "$java_bin" -jar "$root/bench/target/benchmarks.jar" -t 1 "$@"
