"""The example model server (examples/continuous_batching.py) runs against the real server."""

import re
import subprocess
import sys

import pytest

from conftest import CLIENT_DIR

EXAMPLE = CLIENT_DIR / "examples" / "continuous_batching.py"


@pytest.mark.parametrize("transport, dtype", [("unix", "float32"), ("tcp", "bfloat16")])
def test_continuous_batching_example(tally_server, torch, transport, dtype):
    target = getattr(tally_server, transport)
    run = subprocess.run([sys.executable, str(EXAMPLE), "--target", target, "--dtype", dtype],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    joins = {int(i): int(s) for s, i in re.findall(r"step +(\d+) +\+ #(\d+) joins", out)}
    dones = {int(i): int(s) for s, i in re.findall(r"step +(\d+) +- #(\d+) done", out)}
    assert sorted(joins) == sorted(dones) == [1, 2, 3, 4, 5, 6]
    assert len(set(joins.values())) > 2 and len(set(dones.values())) > 2  # different steps
    assert all(joins[i] <= dones[i] for i in joins)
    assert max(joins.values()) > min(dones.values())  # some join after others finished
    lines = [l for l in out.splitlines() if re.match(r"^#\d \[(eos|length)\] ", l)]
    assert len(lines) == 6, out
    assert "[eos]" in out  # Tally ended some by their EOS token
