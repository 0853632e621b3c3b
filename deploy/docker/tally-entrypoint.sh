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
# the sampling kernels use SIMD. Netty's native transport and Guice's sun.misc.Unsafe use are
# allowed up front where the JDK has the flags, so no JVM warnings open the log. java.nio is
# opened to Netty so it frees direct buffers without the JDK's cleaner (faster inline steps).
feature="$("$java_bin" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')"
quiet="--add-opens=java.base/java.nio=ALL-UNNAMED -Dio.netty.tryReflectionSetAccessible=true"
if [ "${feature%%.*}" -ge 22 ] 2>/dev/null; then quiet="$quiet --enable-native-access=ALL-UNNAMED"; fi
if [ "${feature%%.*}" -ge 23 ] 2>/dev/null; then quiet="$quiet --sun-misc-unsafe-memory-access=allow"; fi
# shellcheck disable=SC2086
exec "$java_bin" --add-modules jdk.incubator.vector $quiet ${TALLY_JAVA_OPTS:-} -jar "$jar" "$@"
