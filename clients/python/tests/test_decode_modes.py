"""Decode modes from Python (docs/decode-modes.md): n samples under one seed, forks, the
cumulative logprob and teacher forcing, against a real server on both transports."""

import grpc
import numpy as np
import pytest

from tally_client import History, SessionStepError, derive_seed
from toy_model import toy_logits

VOCAB = 256
PARAMS = dict(temperature=0.9, top_p=0.95, repetition_penalty=1.2, top_logprobs=2)

# Pinned vectors of derive_seed, shared with the server's CounterRandomTest: (seed, index, derived).
VECTORS = [
    (0, 0, 0x1348E23F2DCE73E5),
    (0, 1, 0x510C4549E9535BE3),
    (1, 0, 0x1E047488127BEE41),
    (42, 0, 0x9807E02220439B04),
    (42, 1, 0x5A936FF51F858D22),
    (42, 7, 0xD53E8E3DD9C2C303),
    (0x0123456789ABCDEF, 3, 0x3D09DC50958B3C87),
    (2**64 - 1, 0xFFFFFFFF, 0xDFB9C3627520AA8B),
    (20261207, 1 << 32, 0x7FCDCF6C09BE965D),
]


def test_derive_seed_vectors():
    for seed, index, derived in VECTORS:
        assert derive_seed(seed, index) == derived, (seed, index)


def run(session, ids, steps, start=4):
    """Decodes `ids` together for `steps` steps on the toy model (row = f(last token))."""
    last = {i: start for i in ids}
    out = {i: [] for i in ids}
    for _ in range(steps):
        r = session.step(ids, np.stack([toy_logits(last[i], VOCAB) for i in ids]))
        r.raise_for_errors()
        for k, i in enumerate(ids):
            last[i] = int(r.token_ids[k])
            out[i].append((int(r.token_ids[k]), float(r.logprobs[k]),
                           float(r.cumulative_logprobs[k]), int(r.seeds[k])))
    return out


def test_sample_index_children_are_fresh_sequences_with_derived_seeds(client):
    ids = list(range(1, 7))
    with client.session() as s:
        for i in ids:
            s.add(i, prompt_token_ids=[4], seed=99, sample_index=i - 1, **PARAMS)
        children = run(s, ids, 10)
    with client.session() as s:
        for i in ids:
            s.add(i, prompt_token_ids=[4], seed=derive_seed(99, i - 1), **PARAMS)
        fresh = run(s, ids, 10)
    assert children == fresh
    for i in ids:
        assert children[i][0][3] == derive_seed(99, i - 1)
        sums = np.cumsum([np.float64(np.float32(lp)) for _, lp, _, _ in children[i]])
        assert [c for _, _, c, _ in children[i]] == sums.tolist()
    tokens = {tuple(t for t, _, _, _ in children[i]) for i in ids}
    assert len(tokens) == len(ids)  # six different samples


def test_fork_equals_a_replay_and_leaves_the_parent_alone(client):
    with client.session() as s:
        s.add(1, prompt_token_ids=[4], seed=7, **PARAMS)
        head = run(s, [1], 3)[1]
        s.fork(1, 2, sample_index=3, append_token_ids=[11])
        s.flush()
        assert s.sequences == frozenset({1, 2})
        last = {1: head[-1][0], 2: 11}
        parent, child = [], []
        for _ in range(5):
            r = s.step([1, 2], np.stack([toy_logits(last[1], VOCAB), toy_logits(last[2], VOCAB)]))
            parent.append((int(r.token_ids[0]), float(r.cumulative_logprobs[0])))
            child.append((int(r.token_ids[1]), float(r.cumulative_logprobs[1])))
            last = {1: int(r.token_ids[0]), 2: int(r.token_ids[1])}
    output = [t for t, _, _, _ in head] + [11]
    with client.session() as s:
        s.add(1, prompt_token_ids=[4], seed=7, **PARAMS)
        s.add(2, prompt_token_ids=[4], output_token_ids=output, seed=derive_seed(7, 3),
              cumulative_logprob=head[-1][2], **PARAMS)
        alone = run(s, [1], 8)[1]
        last, replay = 11, []
        for _ in range(5):
            r = s.step([2], toy_logits(last, VOCAB)[None, :])
            replay.append((int(r.token_ids[0]), float(r.cumulative_logprobs[0])))
            last = int(r.token_ids[0])
    assert child == replay
    assert parent == [(t, c) for t, _, c, _ in alone[3:]]


def test_teacher_forcing_scores_the_given_tokens_and_appends_them(client):
    given = [30, 30, 7]
    with client.session() as s:
        s.add(1, prompt_token_ids=[4], seed=3, **PARAMS)
        last, history = 4, []
        for t in given:
            row = toy_logits(last, VOCAB)
            r = s.step([1], row[None, :], targets=[t])
            assert r.scored.tolist() == [True] and r.token_ids.tolist() == [t]
            ref = client.sample(row, histories=[History([4], history)], targets=[t], seed=3,
                                **PARAMS)
            assert ref.scored.tolist() == [True]
            assert r.logprobs[0] == ref.logprobs[0]
            assert r.processed_logprobs[0] == ref.processed_logprobs[0]
            assert r.is_greedy[0] == ref.is_greedy[0] == (t == int(np.argmax(row)))
            x = row.astype(np.float64)
            assert abs(r.logprobs[0] - (x[t] - x.max() - np.log(np.exp(x - x.max()).sum()))) < 1e-5
            history.append(t)
            last = t
        r = s.step([1], toy_logits(last, VOCAB)[None, :])  # a draw, after the forced tokens
        assert r.scored.tolist() == [False]
        ref = client.sample(toy_logits(last, VOCAB), histories=[History([4], history)], seed=3,
                            **PARAMS)
        assert r.token_ids[0] == ref.token_ids[0]


def test_a_bad_fork_fails_the_step_and_changes_nothing(client):
    with client.session() as s:
        s.add(1, prompt_token_ids=[4], seed=3)
        s.flush()
        s.fork(9, 2)
        with pytest.raises(SessionStepError) as e:
            s.flush()
        assert e.value.code == grpc.StatusCode.NOT_FOUND
        assert e.value.reason == "UNKNOWN_SEQUENCE" and e.value.field == "forks[0].parent_id"
        assert e.value.message == "forks[0]: sequence 9 is not registered"
        assert s.sequences == frozenset({1})
        r = s.step([1], toy_logits(4, VOCAB)[None, :])
        assert r.ok


def test_strict_verification_emits_the_stream_without_speculation(client):
    params = dict(seed=21, min_tokens=2, eos_token_ids=[0], **PARAMS)
    with client.session() as s:
        s.add(1, prompt_token_ids=[4], **params)
        plain = [t for t, _, _, _ in run(s, [1], 12)[1]]
    rng = np.random.default_rng(5)
    for k in (1, 3):
        emitted, verdicts = [], []
        with client.session() as s:
            s.add(1, prompt_token_ids=[4], **params)
            last = 4
            while len(emitted) < len(plain):
                truth = plain[len(emitted):len(emitted) + k] + [0] * k
                draft = [t if rng.random() < 0.6 else int(rng.integers(VOCAB)) for t in truth[:k]]
                s.draft(1, draft)
                rows = np.stack([toy_logits(t, VOCAB) for t in [last] + draft])
                r = s.step([1] * (k + 1), rows)
                r.raise_for_errors()
                for j, v in enumerate(r.verdicts):
                    verdicts.append(v)
                    if v != "discarded":
                        emitted.append(int(r.token_ids[j]))
                        assert v == ("bonus" if j == k else
                                     "accepted" if r.token_ids[j] == draft[j] else "corrected")
                        last = int(r.token_ids[j])
                if r.finish_reasons[-1] == "eos" or "eos" in r.finish_reasons:
                    break
        assert emitted[:len(plain)] == plain, k
        assert {"accepted", "corrected"} <= set(verdicts), verdicts


def test_prompt_scoring_in_chunks_equals_one_chunk_and_the_log_softmax(client):
    prompt = [int(t) for t in np.random.default_rng(3).integers(1, VOCAB, 30)]
    rows = np.stack([toy_logits(t, VOCAB) for t in prompt[:-1]])  # row j: after prompt[0..j]

    def score(chunks):
        out, summaries = [], []
        with client.session() as s:
            s.add(1, prompt_token_ids=prompt, seed=1, **PARAMS)
            start = 0
            for count in chunks:
                s.score_prompt(1, start, count)
                r = s.step([1] * count, rows[start:start + count])
                r.raise_for_errors()
                assert all(r.scored)
                out += list(zip(r.token_ids.tolist(), r.logprobs.tolist(), r.is_greedy.tolist()))
                summaries += r.score_summaries
                start += count
        return out, summaries

    whole, one = score([29])
    chunked, seven = score([5, 5, 5, 5, 5, 3, 1])
    assert whole == chunked
    assert [t for t, _, _ in whole] == prompt[1:]
    x = rows.astype(np.float64)
    lse = x.max(axis=1) + np.log(np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1))
    reference = float(sum(x[j, prompt[j + 1]] - lse[j] for j in range(29)))
    assert len(one) == 1 and one[0].count == 29
    assert abs(one[0].sum_logprob - reference) < 1e-4
    assert abs(sum(s.sum_logprob for s in seven) - one[0].sum_logprob) < 1e-9
    assert one[0].all_greedy == all(g for _, _, g in whole)
