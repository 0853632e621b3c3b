#!/bin/sh
# The Tally image's entrypoint (also its `tally` command): runs the server jar on the image's JRE
# with the flags Tally needs. With no arguments it serves on the shared Unix socket.
#   TALLY_HOME       where the jar and plugins/ are (default /opt/tally)
#   TALLY_JAVA       the java binary (default: java on PATH)
#   TALLY_JAVA_OPTS  extra JVM flags, e.g. -Xmx2g
#   TALLY_SOCKET     the default socket (default /run/tally/tally.sock)
# Every `serve` option can also come from TALLY_<OPTION> variables (see docs/operations.md).
set -eu

home="${TALLY_HOME:-/opt/tally}"
java_bin="${TALLY_JAVA:-java}"
jar="$home/tally-server-all.jar"

if [ ! -f "$jar" ]; then
  echo "tally-entrypoint: no server jar at $jar" >&2
  exit 127
fi

if [ "$#" -eq 0 ]; then
  set -- serve --listen "unix:${TALLY_SOCKET:-/run/tally/tally.sock}"
fi

# The plugins folder beside the jar is loaded by default (PluginDirs); the Vector API module lets
# the sampling kernels use SIMD.
# shellcheck disable=SC2086
exec "$java_bin" --add-modules jdk.incubator.vector ${TALLY_JAVA_OPTS:-} -jar "$jar" "$@"
