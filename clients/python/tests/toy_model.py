"""A deterministic toy "language model" shared by the tests and the C++ example
(clients/cpp/examples/stream_tokens.cpp implements the same function).

The logits of the next token depend on the last token only, through an integer hash. Every
logit is a multiple of 1/16 in [-4, 4]: exactly representable in float32, float16 and bfloat16,
so all three dtypes must give the same tokens and logprobs.
"""

from __future__ import annotations

import numpy as np

MASK = np.uint64(0xFFFFFFFF)


def _mix(last: int, vocab: int) -> np.ndarray:
    # Arithmetic in uint64, masked to 32 bits after each step: the same values as uint32 in C++.
    v = np.arange(vocab, dtype=np.uint64)
    h = ((np.uint64(last) * np.uint64(0x9E3779B1)) & MASK) ^ ((v * np.uint64(0x85EBCA77)) & MASK)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & MASK
    h ^= h >> np.uint64(12)
    return h


def toy_logits(last: int, vocab: int) -> np.ndarray:
    """float32 [vocab]: the toy model's logits after token `last`."""
    h = _mix(last, vocab)
    return ((h % np.uint64(129)).astype(np.int64) - 64).astype(np.float32) / np.float32(16)


def toy_batch(lasts, vocab: int) -> np.ndarray:
    return np.stack([toy_logits(int(t), vocab) for t in lasts]) if len(lasts) else \
        np.zeros((0, vocab), np.float32)


def greedy(row: np.ndarray) -> int:
    """argmax, ties to the lowest id (np.argmax returns the first maximum)."""
    return int(np.argmax(row))


def log_softmax(row: np.ndarray) -> np.ndarray:
    x = row.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def decode(session, seqs, vocab, convert=lambda x: x):
    """A model server's loop: sequences join at their step, each step sends one row per active
    sequence, finished sequences are removed. Returns tokens, finish reasons and rows per step."""
    outputs, reasons, rows_per_step, waiting, active = {}, {}, [], list(seqs), []
    step = 0
    while waiting or active:
        for s in [s for s in waiting if s["join"] <= step]:
            waiting.remove(s)
            session.add(s["id"], prompt_token_ids=s["prompt"], **s["params"])
            outputs[s["id"]] = []
            active.append(s)
        if active:
            lasts = [(outputs[s["id"]] or s["prompt"])[-1] for s in active]
            logits = toy_batch(lasts, vocab)
            r = session.step([s["id"] for s in active], convert(logits))
            assert r.ok, r.errors
            assert r.seq_ids == tuple(s["id"] for s in active)
            rows_per_step.append(len(active))
            for s, row, token, reason in zip(list(active), logits, r.token_ids, r.finish_reasons):
                outputs[s["id"]].append(int(token))
                if s["params"].get("temperature") == 0:
                    assert token == greedy(row)
                if reason or len(outputs[s["id"]]) >= s["max_tokens"]:
                    reasons[s["id"]] = reason or "length"
                    session.remove(s["id"])
                    active.remove(s)
        step += 1
    session.flush()
    return outputs, reasons, rows_per_step
