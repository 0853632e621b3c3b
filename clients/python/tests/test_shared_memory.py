"""Shared-memory logits from Python (docs/shared-memory.md): token for token the inline results,
bad references answered in-band, regions freed when their owner goes away, a killed client
leaving no mapping behind."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import grpc
import numpy as np
import pytest

from tally_client import Client, SessionStepError, TallyError, sampler_pb2 as pb

ROWS, VOCAB = 4, 32000
PARAMS = dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repetition_penalty=1.1,
              top_logprobs=5)


def landscape(step, dtype=np.float32):
    rng = np.random.default_rng(100 + step)
    return (3 * rng.standard_normal((ROWS, VOCAB))).astype(dtype)


def server_regions(unix):
    with Client(unix) as c:
        return c.server_info().shared_memory.server_regions


def server_bytes(unix):
    with Client(unix) as c:
        return c.server_info().shared_memory.server_bytes_mapped


def await_regions(unix, expected, timeout=10.0):
    deadline = time.monotonic() + timeout
    while server_regions(unix) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_regions(unix) == expected


def decode(client, steps, shared_memory, to_wire=lambda a: a):
    out = []
    with client.session(shared_memory=shared_memory) as s:
        for i in range(ROWS):
            s.add(i + 1, prompt_token_ids=[i], seed=11 + i, **PARAMS)
        for t in range(steps):
            r = s.step(range(1, ROWS + 1), to_wire(landscape(t)))
            out.append((r.token_ids.tolist(), r.logprobs.tolist(), r.ranks.tolist(),
                        [list(c.top_logprobs) for c in r.choices]))
    return out


@pytest.fixture
def unix_client(tally_server):
    with Client(tally_server.unix, timeout=30) as c:
        yield c


def test_server_reports_shared_memory(unix_client):
    info = unix_client.server_info()
    assert info.shared_memory.supported, info.shared_memory.unsupported_reason
    assert info.limits.max_shared_memory_regions == 64
    assert info.limits.max_shared_memory_bytes == 64 << 30


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16-torch"])
def test_session_over_shared_memory_matches_inline(unix_client, dtype, torch):
    if dtype == "bfloat16-torch":
        wire = lambda a: torch.from_numpy(a).to(torch.bfloat16)
    else:
        wire = lambda a: a.astype(dtype)
    inline = decode(unix_client, 12, False, wire)
    shm = decode(unix_client, 12, True, wire)
    assert shm == inline
    await_regions(unix_client.target, 0)  # the sessions ended: their regions are gone


def test_strided_and_float64_inputs_are_copied_once_as_inline(unix_client):
    wide = np.repeat(landscape(0).astype(np.float64), 2, axis=1)[:, ::2]  # strided float64
    a = unix_client.sample(wide, seed=5, **PARAMS)
    b = unix_client.sample(wide, seed=5, shared_memory=True, **PARAMS)
    assert a.token_ids.tolist() == b.token_ids.tolist()
    assert a.logprobs.tolist() == b.logprobs.tolist()


def test_sample_reuses_its_region_and_grows_it(unix_client):
    for t in range(5):
        logits = landscape(t) if t < 3 else np.tile(landscape(t), (2, 1))
        a = unix_client.sample(logits, seed=t, **PARAMS)
        b = unix_client.sample(logits, seed=t, shared_memory=True, **PARAMS)
        assert a.token_ids.tolist() == b.token_ids.tolist()
    status = unix_client.shared_memory_status()
    assert status.supported
    assert len(status.regions) == 1  # the small region was replaced, not kept
    assert status.regions[0].key.startswith(f"/proc/{os.getpid()}/fd/")  # a sealed memfd
    assert status.regions[0].byte_size >= 2 * ROWS * VOCAB * 4


def test_dev_shm_objects_work_too_and_leave_no_name_behind(unix_client):
    from tally_client._shm import Region

    before = set(os.listdir("/dev/shm"))
    keys = []

    def register_named(request):
        keys.append(request.key)
        if request.key.startswith("/proc/"):
            raise TallyError(grpc.StatusCode.FAILED_PRECONDITION, "cannot open it", reason="SHARED_MEMORY_UNAVAILABLE")
        unix_client._call(unix_client.stub.RegisterSharedMemory, request, 30)

    region = Region(ROWS * VOCAB * 4, register_named)
    assert keys[0].startswith("/proc/") and keys[1].startswith("/tally-")
    assert set(os.listdir("/dev/shm")) == before  # unlinked once the server mapped it
    logits = landscape(3)
    ref = region.write(0, logits)
    a = unix_client.sample(logits, seed=9, **PARAMS)
    b = unix_client.sample(ref, seed=9, **PARAMS)
    assert a.token_ids.tolist() == b.token_ids.tolist()
    unix_client._call(unix_client.stub.UnregisterSharedMemory,
                      pb.UnregisterSharedMemoryRequest(name=region.name), 30)
    region.close()


def test_bad_reference_is_answered_in_band_and_the_session_goes_on(unix_client):
    with unix_client.session(shared_memory=True) as s:
        s.add(1, seed=1)
        s.step([1], landscape(0)[:1])  # registers the session's region
        bad = pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=1, vocab_size=VOCAB,
                        shared_memory=pb.SharedMemoryRef(region="nope", offset=0,
                                                         byte_size=VOCAB * 4))
        with pytest.raises(SessionStepError) as e:
            s.step([1], bad)
        assert e.value.reason == "INVALID_SHARED_MEMORY"
        assert e.value.field == "logits.shared_memory.region"
        assert s.step([1], landscape(1)[:1]).token_ids.shape == (1,)


def test_shared_memory_is_not_for_a_tcp_client_on_another_host_but_works_on_loopback(tally_server):
    with Client(tally_server.tcp, timeout=30) as c:
        assert c.shared_memory_status().supported  # loopback is this host
        assert c.sample(landscape(0), seed=1, shared_memory=True).token_ids.shape == (ROWS,)


def test_killed_client_leaves_no_mapping_behind(tally_server):
    script = textwrap.dedent(f"""
        import sys, time, numpy as np
        from tally_client import Client
        c = Client({tally_server.unix!r}, timeout=30)
        c.sample(np.zeros((2, 1000), np.float32), shared_memory=True)
        s = c.session(shared_memory=True)
        s.add(1)
        s.step([1], np.zeros((1, 5000), np.float32))
        print("ready", flush=True)
        time.sleep(60)
    """)
    before, before_bytes = server_regions(tally_server.unix), server_bytes(tally_server.unix)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert server_regions(tally_server.unix) == before + 2
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        await_regions(tally_server.unix, before)
        assert server_bytes(tally_server.unix) == before_bytes
    finally:
        if child.poll() is None:
            child.kill()
