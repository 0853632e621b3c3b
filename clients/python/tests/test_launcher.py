"""`./tally serve` opens with Tally's own lines: the launcher passes the flags that silence the
JVM's warnings about Netty's native library and Guice's sun.misc.Unsafe (issue 12, point 5). The
one WARNING left is the incubator-module notice, which the JDK prints itself for the Vector API."""

import os
import subprocess
import time

from conftest import REPO

INCUBATOR_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"


def test_serve_prints_no_jvm_warnings(tmp_path):
    sock = tmp_path / "t.sock"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "TALLY_JAVA_OPTS"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(REPO / "tally"), "serve", "--listen", f"unix:{sock}"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)
    try:
        deadline = time.monotonic() + 120
        while f"listening on unix:{sock}" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = log.read_text(errors="replace").splitlines()
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert set(warnings) <= {INCUBATOR_NOTICE}, "\n".join(lines)
    # Tally's own first line comes right after the JDK's notice, if any.
    first = [line for line in lines if line != INCUBATOR_NOTICE][0]
    assert " INFO " in first, first
