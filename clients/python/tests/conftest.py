"""Fixtures: one real Tally server (the jar, started with `java -jar`) listening on a Unix socket
and on TCP at once, for the whole test session.

Environment:
    TALLY_SERVER_JAR  the server jar (default: the repo's server/target/tally-server-*-all.jar;
                      build it with `./mvnw -q -DskipTests -pl server -am package`)
    TALLY_JAVA        the java executable (default: `java` on PATH)
    TALLY_STRICT=1    turn every skip into a failure (CI sets it: nothing may be skipped there)
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CLIENT_DIR = REPO / "clients" / "python"
STRICT = os.environ.get("TALLY_STRICT") == "1"


def require(condition: object, reason: str) -> None:
    """Skips the test when `condition` is false, or fails it under TALLY_STRICT=1."""
    if not condition:
        if STRICT:
            pytest.fail(f"TALLY_STRICT=1 and {reason}", pytrace=False)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    unix: str
    tcp: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _jar() -> str | None:
    if os.environ.get("TALLY_SERVER_JAR"):
        return os.environ["TALLY_SERVER_JAR"]
    jars = sorted(glob.glob(str(REPO / "server" / "target" / "tally-server-*-all.jar")),
                  key=os.path.getmtime)
    return jars[-1] if jars else None


@pytest.fixture(scope="session")
def tally_server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    jar = _jar()
    require(jar and os.path.exists(jar),
            "no server jar: build it with ./mvnw -q -DskipTests -pl server -am package "
            "or set TALLY_SERVER_JAR")
    java = os.environ.get("TALLY_JAVA") or shutil.which("java")
    require(java, "no java on PATH (set TALLY_JAVA)")
    tmp = tmp_path_factory.mktemp("tally")
    sock, port, log = tmp / "tally.sock", _free_port(), tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [java, "-jar", jar, "serve", "--listen", f"unix:{sock}",
             "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(unix=f"unix:{sock}", tcp=f"127.0.0.1:{port}", process=proc, log=log)
    deadline = time.monotonic() + 90
    while True:
        text = server.log_text()
        if f"listening on unix:{sock}" in text and f"listening on 127.0.0.1:{port}" in text:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the Tally server did not start (exit {proc.poll()}):\n{text}",
                        pytrace=False)
        time.sleep(0.05)
    yield server
    proc.terminate()  # SIGTERM: a graceful shutdown, exit status 0
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the server did not stop within 30 s of SIGTERM:\n{server.log_text()}")
    if proc.returncode != 0:
        pytest.fail(f"the server exited {proc.returncode} after SIGTERM:\n{server.log_text()}")


@pytest.fixture(scope="session", params=["unix", "tcp"])
def target(request: pytest.FixtureRequest, tally_server: Server) -> str:
    """The server's address, once per transport: every test using it runs on both."""
    return getattr(tally_server, request.param)


@pytest.fixture
def client(target: str):
    from tally_client import Client

    with Client(target, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def torch():
    """PyTorch, or a skip (a failure under TALLY_STRICT=1) without it."""
    try:
        import torch as t
    except ImportError:
        t = None
    require(t, "PyTorch is not installed (Debian: python3-torch)")
    return t
