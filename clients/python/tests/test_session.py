"""Client.session: continuous batching, registry changes, step and row errors, on both transports."""

import grpc
import numpy as np
import pytest

from tally_client import History, SessionStepError, TallyError, sampler_pb2 as pb
from toy_model import decode, greedy, toy_batch, toy_logits

VOCAB = 256


def greedy_chain(last, n):
    out = []
    for _ in range(n):
        last = greedy(toy_logits(last, VOCAB))
        out.append(last)
    return out


def schedule():
    """Five sequences joining at steps 0, 0, 2, 3 and 6 and ending at different steps, by an EOS
    token (the greedy one) or by their length limit."""
    eos = greedy_chain(4, 4)[3]  # the greedy sequence's 4th token ends it
    return [
        dict(id=1, join=0, prompt=[4], max_tokens=50, params=dict(temperature=0, eos_token_ids=[eos])),
        dict(id=2, join=0, prompt=[9, 8], max_tokens=7, params=dict(temperature=0.8, seed=1)),
        dict(id=3, join=2, prompt=[1], max_tokens=9,
             params=dict(temperature=1.0, top_k=40, repetition_penalty=1.3, seed=2)),
        dict(id=4, join=3, prompt=[200, 3], max_tokens=5,
             params=dict(temperature=0.9, top_p=0.8, frequency_penalty=0.5, seed=3)),
        dict(id=5, join=6, prompt=[77], max_tokens=6,
             params=dict(temperature=1.2, min_p=0.05, presence_penalty=0.4, seed=4)),
    ]


def test_continuous_batching_matches_stateless_sample(client):
    seqs = schedule()
    with client.session() as s:
        outputs, reasons, rows_per_step = decode(s, seqs, VOCAB)
        assert s.sequences == frozenset()
    # prompts joined and finished at different steps
    assert reasons[1] == "eos" and len(outputs[1]) == 4
    assert {reasons[i] for i in (2, 3, 4, 5)} == {"length"}
    lengths = {i: len(o) for i, o in outputs.items()}
    assert lengths == {1: 4, 2: 7, 3: 9, 4: 5, 5: 6}
    spans = [range(q["join"], q["join"] + lengths[q["id"]]) for q in seqs]
    assert rows_per_step == [sum(t in span for span in spans) for t in range(len(rows_per_step))]
    assert rows_per_step == [2, 2, 3, 4, 3, 3, 4, 3, 2, 2, 2, 1]
    # The session kept each sequence's history and seed: every token equals the stateless
    # Sample of the same logits, parameters, seed and history.
    for seq in seqs:
        out = outputs[seq["id"]]
        lasts = [(seq["prompt"] + out)[len(seq["prompt"]) - 1 + k] for k in range(len(out))]
        for k, last in enumerate(lasts):
            r = client.sample(toy_logits(last, VOCAB), histories=[History(seq["prompt"], out[:k])],
                              **seq["params"])
            assert r.token_ids[0] == out[k], (seq["id"], k)


def test_same_seed_same_tokens_whatever_the_batch(client):
    seqs = schedule()
    with client.session() as s:
        together, _, _ = decode(s, seqs, VOCAB)
    for seq in seqs:  # each sequence alone, in its own session
        with client.session() as s:
            alone, _, _ = decode(s, [dict(seq, join=0)], VOCAB)
        assert alone[seq["id"]] == together[seq["id"]]


def test_append_counts_as_output(client):
    row = toy_logits(5, VOCAB)
    with client.session() as s:
        s.add(1, prompt_token_ids=[5], temperature=1.0, seed=99)
        s.append(1, [10, 11])
        r = s.step([1], row)
    expected = client.sample(row, temperature=1.0, seed=99, histories=[([5], [10, 11])])
    assert r.token_ids.tolist() == expected.token_ids.tolist()


def test_resume_with_output_token_ids(client):
    row = toy_logits(2, VOCAB)
    with client.session() as s:
        s.add(7, prompt_token_ids=[1], output_token_ids=[2, 3, 4], temperature=1.0, seed=5)
        r = s.step([7], row)
    assert r.token_ids.tolist() == client.sample(
        row, temperature=1.0, seed=5, histories=[([1], [2, 3, 4])]).token_ids.tolist()


def test_flush_registers_without_rows(client):
    with client.session() as s:
        s.add(1, temperature=0)
        s.add(2, temperature=0)
        s.flush()
        assert s.sequences == {1, 2}
        s.remove(2)
        s.flush()
        assert s.sequences == {1}
        s.flush()  # nothing pending: no message
        assert s.step([1], toy_logits(0, VOCAB)).token_ids[0] == greedy(toy_logits(0, VOCAB))


def test_bad_step_changes_nothing_and_the_session_goes_on(client):
    with client.session() as s:
        s.add(1, temperature=0)
        s.flush()
        s.add(2, temperature=0)
        with pytest.raises(SessionStepError) as e:
            s.step([3], toy_logits(0, VOCAB))  # unknown sequence
        assert e.value.code == grpc.StatusCode.NOT_FOUND
        assert e.value.reason == "UNKNOWN_SEQUENCE"
        assert e.value.field == "row_sequence_ids[0]"
        assert s.sequences == {1}  # the add of 2 travelled with the refused step
        with pytest.raises(SessionStepError) as e:
            s.add(1, temperature=0)
            s.flush()
        assert e.value.code == grpc.StatusCode.ALREADY_EXISTS
        assert e.value.reason == "DUPLICATE_SEQUENCE" and e.value.field == "added[0].id"
        with pytest.raises(SessionStepError) as e:
            s.add(5, top_p=2.0)
            s.flush()
        assert e.value.reason == "INVALID_PARAMS" and e.value.field == "added[0].params.top_p"
        bad = pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=1, vocab_size=VOCAB, data=b"\0" * 12)
        with pytest.raises(SessionStepError) as e:
            s.step([1], bad)
        assert e.value.reason == "INVALID_TENSOR"
        assert s.step([1], toy_logits(0, VOCAB)).token_ids[0] == greedy(toy_logits(0, VOCAB))


def test_bad_row_fails_alone(client):
    logits = toy_batch([1, 2, 3], VOCAB)
    logits[1, 7] = np.nan
    with client.session() as s:
        for i in (1, 2, 3):
            s.add(i, temperature=0)
        r = s.step([1, 2, 3], logits)
    assert not r.ok
    assert r.token_ids.tolist() == [greedy(logits[0]), -1, greedy(logits[2])]
    assert r.errors[0] is None and r.errors[2] is None
    err = r.errors[1]
    assert isinstance(err, TallyError)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and err.reason == "INVALID_LOGITS"
    with pytest.raises(TallyError):
        r.raise_for_errors()


def test_ids_as_arrays_and_tensors(client, torch):
    big = 2**64 - 1  # sequence ids are uint64
    row = toy_logits(3, VOCAB)
    with client.session() as s:
        s.add(big, prompt_token_ids=np.array([3], dtype=np.int64), temperature=0)
        s.add(5, prompt_token_ids=torch.tensor([3]), temperature=0)
        r = s.step(np.array([big, 5], dtype=np.uint64), np.stack([row, row]))
        assert r.seq_ids == (big, 5)
        assert r.token_ids.tolist() == [greedy(row)] * 2
        r = s.step(torch.tensor([5]), row)
        assert r.seq_ids == (5,)


def test_rows_must_match_ids(client):
    with client.session() as s:
        s.add(1, temperature=0)
        with pytest.raises(ValueError):
            s.step([1, 2], toy_logits(0, VOCAB))


def test_closed_session_refuses_steps(client):
    s = client.session()
    s.add(1, temperature=0)
    s.step([1], toy_logits(0, VOCAB))
    s.close()
    s.close()  # idempotent
    with pytest.raises(TallyError) as e:
        s.step([1], toy_logits(0, VOCAB))
    assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_exception_in_block_cancels(client):
    with pytest.raises(RuntimeError):
        with client.session() as s:
            s.add(1, temperature=0)
            s.step([1], toy_logits(0, VOCAB))
            raise RuntimeError("model crashed")
    # the server forgets cancelled sessions
    import time

    deadline = time.monotonic() + 10
    while client.server_info().active_sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.server_info().active_sessions == 0
