"""The C++ example (clients/cpp, built with CMake) against the real server, cross-checked: the
Python client, running the same schedule over the same toy model, gets the same tokens."""

import os
import re
import subprocess

from conftest import REPO, require
from toy_model import decode

BINARY = os.environ.get("TALLY_CPP_EXAMPLE",
                        str(REPO / "clients" / "cpp" / "build" / "tally_stream_example"))
STEPS, VOCAB = 12, 256


def cpp_schedule():
    """The schedule of clients/cpp/examples/stream_tokens.cpp (float literals as C++ has them)."""
    return [
        dict(id=1, join=0, prompt=[4], max_tokens=STEPS, params=dict(temperature=0.0)),
        dict(id=2, join=0, prompt=[9, 8], max_tokens=6, params=dict(temperature=0.8, seed=42)),
        dict(id=3, join=2, prompt=[1, 2], max_tokens=STEPS,
             params=dict(temperature=1.0, top_k=20, seed=7)),
        dict(id=4, join=4, prompt=[100], max_tokens=STEPS,
             params=dict(temperature=0.7, top_p=0.9, repetition_penalty=1.3, seed=3)),
    ]


def test_cpp_example_matches_python_client(client, target):
    require(os.access(BINARY, os.X_OK),
            f"no C++ example at {BINARY}: cmake -S clients/cpp -B clients/cpp/build && "
            "cmake --build clients/cpp/build (or set TALLY_CPP_EXAMPLE)")
    run = subprocess.run([BINARY, "--target", target, "--steps", str(STEPS), "--vocab", str(VOCAB)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tokens OK" in run.stdout
    cpp = {int(i): [int(t) for t in toks.split()]
           for i, toks in re.findall(r"^tokens (\d+):((?: -?\d+)*)$", run.stdout, re.M)}
    assert sorted(cpp) == [1, 2, 3, 4], run.stdout
    with client.session() as s:
        py, _, _ = decode(s, cpp_schedule(), VOCAB)
    assert py == cpp
