"""numpy float32/float16 and torch float32/float16/bfloat16 logits: the same tokens as float32.

The toy model's logits are multiples of 1/16 in [-4, 4], exact in all three dtypes, so the server
sees identical values and must return identical tokens and logprobs.
"""

import time

import numpy as np
import pytest

from tally_client import sampler_pb2 as pb, to_logits
from toy_model import toy_batch

VOCAB = 1000
SAMPLING = dict(temperature=0.9, top_k=50, top_p=0.95, seed=7, top_logprobs=3)


def converters(torch):
    return {
        "numpy-float32": lambda a: a.astype(np.float32),
        "numpy-float16": lambda a: a.astype(np.float16),
        "torch-float32": lambda a: torch.from_numpy(a),
        "torch-float16": lambda a: torch.from_numpy(a).to(torch.float16),
        "torch-bfloat16": lambda a: torch.from_numpy(a).to(torch.bfloat16),
    }


@pytest.mark.parametrize("kind", ["numpy-float32", "numpy-float16", "torch-float32",
                                  "torch-float16", "torch-bfloat16"])
def test_sample_same_tokens_as_float32(client, torch, kind):
    logits = toy_batch(range(16), VOCAB)
    want = client.sample(logits, **SAMPLING)
    got = client.sample(converters(torch)[kind](logits), **SAMPLING)
    assert got.token_ids.tolist() == want.token_ids.tolist()
    np.testing.assert_array_equal(got.logprobs, want.logprobs)
    assert got.top_logprobs == want.top_logprobs


@pytest.mark.parametrize("kind", ["numpy-float16", "torch-float32", "torch-float16",
                                  "torch-bfloat16"])
def test_session_same_tokens_as_float32(client, torch, kind):
    convert = converters(torch)[kind]
    runs = {}
    for name, conv in (("float32", lambda a: a), (kind, convert)):
        tokens, lasts = [], [1, 2, 3]
        with client.session() as s:
            for i in range(3):
                s.add(i, prompt_token_ids=[lasts[i]], temperature=1.0, seed=i, repetition_penalty=1.2)
            for _ in range(6):
                r = s.step([0, 1, 2], conv(toy_batch(lasts, VOCAB)))
                lasts = r.token_ids.tolist()
                tokens.append(lasts)
        runs[name] = tokens
    assert runs[kind] == runs["float32"]


def test_wire_format(torch):
    a = toy_batch([1, 2], VOCAB)
    m = to_logits(a)
    assert (m.dtype, m.rows, m.vocab_size) == (pb.DTYPE_FLOAT32, 2, VOCAB)
    assert m.data == a.astype("<f4").tobytes()
    m = to_logits(a.astype(np.float16))
    assert m.dtype == pb.DTYPE_FLOAT16 and m.data == a.astype("<f2").tobytes()
    t = torch.from_numpy(a).to(torch.bfloat16)
    m = to_logits(t)
    # bfloat16 travels as its raw bits: the top half of each float32 (exact for these values)
    assert m.dtype == pb.DTYPE_BFLOAT16 and len(m.data) == 2 * 2 * VOCAB
    assert m.data == t.view(torch.int16).numpy().tobytes()
    assert m.data == (a.view(np.uint32) >> 16).astype("<u2").tobytes()
    assert to_logits(a[0]).rows == 1
    assert to_logits(m) is m


def test_awkward_inputs(client, torch):
    a = toy_batch(range(4), VOCAB)
    want = client.sample(a, temperature=0).token_ids.tolist()
    assert client.sample(np.asfortranarray(a), temperature=0).token_ids.tolist() == want
    assert client.sample(a.astype(np.float64), temperature=0).token_ids.tolist() == want
    assert client.sample(a.astype(">f4"), temperature=0).token_ids.tolist() == want
    wide = np.concatenate([a, a], axis=1)[:, :VOCAB]  # a strided view
    assert client.sample(wide, temperature=0).token_ids.tolist() == want
    t = torch.from_numpy(a).requires_grad_(True)
    assert client.sample(t, temperature=0).token_ids.tolist() == want
    assert client.sample(torch.from_numpy(a.T.copy()).T, temperature=0).token_ids.tolist() == want
    assert client.sample(a.tolist(), temperature=0).token_ids.tolist() == want


def test_rejected_inputs(torch):
    with pytest.raises(TypeError):
        to_logits(np.zeros((2, 3), np.int32))
    with pytest.raises(TypeError):
        to_logits(torch.zeros((2, 3), dtype=torch.int64))
    with pytest.raises(ValueError):
        to_logits(np.zeros((2, 3, 4), np.float32))


def test_no_per_element_python_work(torch):
    t = torch.randn(32, 128256).to(torch.bfloat16)  # 4.1 M elements
    start = time.perf_counter()
    for _ in range(5):
        to_logits(t)
    assert (time.perf_counter() - start) / 5 < 0.5  # a Python loop would take seconds
