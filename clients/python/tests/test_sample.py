"""Client.sample, server_info and list_processors against the real server (Unix socket and TCP)."""

import grpc
import numpy as np
import pytest

from tally_client import History, sampler_pb2 as pb
from toy_model import greedy, log_softmax, toy_batch, toy_logits

VOCAB = 300


def test_server_info(client, target):
    info = client.server_info()
    assert info.version
    assert set(info.dtypes) == {pb.DTYPE_FLOAT32, pb.DTYPE_FLOAT16, pb.DTYPE_BFLOAT16}
    assert info.limits.max_top_logprobs >= 5
    assert target in list(info.transports)


def test_list_processors(client):
    names = {p.name: p for p in client.list_processors()}
    assert {"temperature", "top_k", "top_p", "min_p", "greedy", "draw"} <= names.keys()
    assert names["top_k"].kind == pb.PROCESSOR
    assert names["draw"].kind == pb.SELECTOR


def test_greedy_matches_argmax_and_logprobs(client):
    logits = toy_batch([1, 2, 3, 4, 5], VOCAB)
    r = client.sample(logits, temperature=0, top_logprobs=5)
    assert r.token_ids.dtype == np.int32 and r.token_ids.shape == (5,)
    assert r.token_ids.tolist() == [greedy(row) for row in logits]
    for i, row in enumerate(logits):
        lp = log_softmax(row)
        assert r.logprobs[i] == pytest.approx(lp[r.token_ids[i]], abs=1e-4)
        assert r.ranks[i] == np.sum(lp >= lp[r.token_ids[i]])
        assert r.processed_logprobs[i] == 0.0  # greedy
        top = list(r.top_logprobs[i].items())
        assert len(top) == 5
        assert top[0][0] == r.token_ids[i]
        assert [t for t, _ in top] == sorted(range(VOCAB), key=lambda v: (-lp[v], v))[:5]
        assert [p for _, p in top] == pytest.approx([lp[t] for t, _ in top], abs=1e-4)
    assert r.ok and r.errors == [None] * 5
    assert r.finish_reasons == [None] * 5
    assert not r.finished.any()
    assert r.seq_ids is None and len(r) == 5


def test_one_dimensional_logits_are_one_row(client):
    row = toy_batch([7], VOCAB)[0]
    r = client.sample(row, temperature=0)
    assert r.token_ids.tolist() == [greedy(row)]


def test_seeded_draw_is_reproducible(client):
    logits = toy_batch(range(8), VOCAB)
    a = client.sample(logits, temperature=1.0, seed=1234)
    b = client.sample(logits, temperature=1.0, seed=1234)
    assert a.token_ids.tolist() == b.token_ids.tolist()
    assert a.seeds.tolist() == [1234] * 8
    draws = {tuple(client.sample(logits, temperature=1.5, seed=s).token_ids) for s in range(5)}
    assert len(draws) > 1  # different seeds, different draws


def test_unseeded_rows_echo_their_seed(client):
    logits = toy_batch([3], VOCAB)
    r = client.sample(logits, temperature=1.0)
    again = client.sample(logits, temperature=1.0, seed=int(r.seeds[0]))
    assert again.token_ids.tolist() == r.token_ids.tolist()


def test_truncation_keywords(client):
    logits = toy_batch(range(6), VOCAB)
    r = client.sample(logits, temperature=1.0, top_k=1, seed=3)
    assert r.token_ids.tolist() == [greedy(row) for row in logits]
    r = client.sample(logits, temperature=0.8, top_p=0.9, min_p=0.05, seed=3, top_k=-1)
    for row, t in zip(logits, r.token_ids):
        lp = log_softmax(row)
        assert lp[t] >= lp.max() + np.log(0.05) - 1e-6  # min_p kept it


def test_masks_and_bias(client):
    logits = toy_batch([11], VOCAB)
    best = greedy(logits[0])
    assert client.sample(logits, temperature=0, banned_token_ids=[best]).token_ids[0] != best
    assert client.sample(logits, temperature=0, allowed_token_ids=[17, 18]).token_ids[0] in (17, 18)
    assert client.sample(logits, temperature=0, logit_bias={"42": 100.0}).token_ids[0] == 42


def test_per_row_params(client):
    logits = toy_batch([1, 2], VOCAB)
    r = client.sample(logits, params=[{"temperature": 0}, {"temperature": 0, "allowed_token_ids": [9]}])
    assert r.token_ids.tolist() == [greedy(logits[0]), 9]
    r = client.sample(logits, params=[pb.SamplingParams(temperature=0)])
    assert r.token_ids.tolist() == [greedy(row) for row in logits]


def test_histories_feed_penalties(client):
    row = toy_batch([5], VOCAB)[0]
    best = greedy(row)
    plain = client.sample(row, temperature=0, repetition_penalty=3.0)
    assert plain.token_ids[0] == best
    hist = client.sample(row, temperature=0, repetition_penalty=3.0,
                         histories=[History(prompt_token_ids=[best])])
    assert hist.token_ids[0] != best
    as_dict = client.sample(row, temperature=0, frequency_penalty=2.0,
                            histories=[{"output_token_ids": [best, best]}])
    as_pair = client.sample(row, temperature=0, frequency_penalty=2.0,
                            histories=[([], [best, best])])
    assert as_dict.token_ids[0] == as_pair.token_ids[0] != best


def test_finish_reasons(client):
    lasts, best = [], []
    for last in range(100):  # three rows with three different greedy tokens
        if greedy(toy_logits(last, VOCAB)) not in best:
            lasts.append(last)
            best.append(greedy(toy_logits(last, VOCAB)))
        if len(lasts) == 3:
            break
    logits = toy_batch(lasts, VOCAB)
    r = client.sample(logits, temperature=0, eos_token_ids=[best[0]], stop_token_ids=[best[1]])
    assert r.finish_reasons == ["eos", "stop", None]
    assert r.finished.tolist() == [True, True, False]
    # min_tokens holds EOS back until enough output exists
    r = client.sample(logits[:1], temperature=0, eos_token_ids=[best[0]], min_tokens=2)
    assert r.token_ids[0] != best[0] and r.finish_reasons == [None]


def test_explain(client):
    r = client.sample(toy_batch([1], VOCAB), temperature=0.7, top_k=10, seed=1, explain=True)
    stages = [s.name for s in r.choices[0].explanation.stages]
    assert "top_k" in stages


def test_big_bfloat16_batch(client, torch):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 128256, generator=gen).to(torch.bfloat16)  # 7.8 MiB on the wire
    r = client.sample(logits, temperature=0)
    assert r.token_ids.tolist() == torch.argmax(logits.float(), dim=1).tolist()


def test_default_deadline():
    """Client(timeout=...) applies to unary calls: a listener that never speaks HTTP/2."""
    import socket

    from tally_client import Client, TallyError

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with Client("127.0.0.1:%d" % silent.getsockname()[1], timeout=0.3) as c:
            with pytest.raises(TallyError) as e:
                c.server_info()
    assert e.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
