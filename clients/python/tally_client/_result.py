"""What `Client.sample` and `Session.step` return: one entry per row, in row order."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np

from tally_client._errors import TallyError
from tally_client._proto.tally.v1 import sampler_pb2 as pb

_FINISH = {
    pb.FINISH_REASON_EOS_TOKEN: "eos",
    pb.FINISH_REASON_STOP_TOKEN: "stop",
    pb.FINISH_REASON_STOP_STRING: "stop_string",
}


_VERDICTS = {
    pb.VERDICT_SCORED: "scored",
    pb.VERDICT_ACCEPTED: "accepted",
    pb.VERDICT_CORRECTED: "corrected",
    pb.VERDICT_BONUS: "bonus",
    pb.VERDICT_DISCARDED: "discarded",
}


class StopMatch(NamedTuple):
    """The stop string that ended a row's sequence, and how many bytes of the chosen token come
    after it: drop those (or those plus `len(text.encode())`) to end the text after (or before)
    the stop string."""

    text: str
    trailing_bytes: int


class _Column:
    """A `Result` attribute computed from its choices on first read, then kept."""

    def __init__(self, build: Callable[[list], Any]):
        self._build = build

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_" + name

    def __get__(self, result: Any, owner: Optional[type] = None) -> Any:
        if result is None:
            return self
        try:
            return getattr(result, self._slot)
        except AttributeError:
            value = self._build(result.choices)
            setattr(result, self._slot, value)
            return value


def _array(choices: list, field: str, dtype: Any) -> np.ndarray:
    return np.fromiter((getattr(c, field) for c in choices), dtype=dtype, count=len(choices))


class Result:
    """The tokens Tally chose for one step, row by row.

    Attributes:
        token_ids: `np.ndarray[int32]` of shape [rows]; -1 where the row failed.
        logprobs: `np.ndarray[float32]`, the raw log-softmax of each chosen token.
        processed_logprobs: `np.ndarray[float32]`, the log-probability the token was drawn with
            (0 for greedy).
        ranks: `np.ndarray[int64]`, 1 = the most likely token under the raw logits.
        seeds: `np.ndarray[uint64]`, the seed each row was drawn with.
        cumulative_logprobs: `np.ndarray[float64]`, the sum of the raw logprobs of the
            sequence's output tokens Tally has seen, this one included (`Client.sample`: the
            row's own): rank n samples by it.
        is_greedy: `np.ndarray[bool]`, True where the token is the raw argmax (ties to the lowest
            id), lm-evaluation-harness's definition.
        scored: `np.ndarray[bool]`, True where the token was given (`targets`) and scored, not
            drawn.
        verdicts: per row, None (an ordinary draw), `"scored"`, or for a draft block's rows
            `"accepted"`, `"corrected"`, `"bonus"` or `"discarded"` (not sampled: token -1).
        acceptance_probabilities: `np.ndarray[float32]`, for accepted and corrected draft rows
            the probability the row gave the draft token (0 elsewhere).
        score_summaries: for `Session.score_prompt`, one `tally.v1.ScoreSummary` per scored
            sequence (`sequence_id`, `sum_logprob`, `all_greedy`, `count`), in row order.
        top_logprobs: per row, `{token_id: logprob}` for the `top_logprobs` best tokens, best
            first (empty unless `top_logprobs` was asked for).
        finish_reasons: per row, None (go on), `"eos"` (an `eos_token_ids` token was chosen),
            `"stop"` (a `stop_token_ids` token was chosen) or `"stop_string"` (the output now
            contains one of `stop`).
        stop_matches: per row, None or the `StopMatch` of a `"stop_string"` finish.
        errors: per row, None or the `TallyError` that failed that row alone (a NaN logit, a
            plugin that threw): the other rows are still sampled.
        seq_ids: for `Session.step`, the sequence id of each row; None for `Client.sample`.
        choices: the `tally.v1.TokenChoice` messages themselves (explanations, for instance).
    """

    __slots__ = ("score_summaries", "seq_ids", "choices") + tuple(f"_{name}" for name in (
        "token_ids", "logprobs", "processed_logprobs", "ranks", "seeds", "cumulative_logprobs",
        "is_greedy", "scored", "verdicts", "acceptance_probabilities", "top_logprobs",
        "finish_reasons", "stop_matches", "errors"))

    def __init__(self, choices: Sequence[pb.TokenChoice], seq_ids: Optional[Sequence[int]] = None,
                 score_summaries: Sequence[pb.ScoreSummary] = ()):
        self.score_summaries = list(score_summaries)
        self.choices = list(choices)
        self.seq_ids = None if seq_ids is None else tuple(int(s) for s in seq_ids)

    # The columns are built from the choices when first read: a decode loop that reads token_ids
    # and finish_reasons does not pay for the top-N dictionaries (a third of a step's Python time
    # at 32 rows).
    token_ids = _Column(lambda cs: _array(cs, "token_id", np.int32))
    logprobs = _Column(lambda cs: _array(cs, "logprob", np.float32))
    processed_logprobs = _Column(lambda cs: _array(cs, "processed_logprob", np.float32))
    ranks = _Column(lambda cs: _array(cs, "rank", np.int64))
    seeds = _Column(lambda cs: _array(cs, "seed", np.uint64))
    cumulative_logprobs = _Column(lambda cs: _array(cs, "cumulative_logprob", np.float64))
    is_greedy = _Column(lambda cs: _array(cs, "is_greedy", bool))
    scored = _Column(lambda cs: np.fromiter((c.verdict == pb.VERDICT_SCORED for c in cs),
                                            dtype=bool, count=len(cs)))
    verdicts = _Column(lambda cs: [_VERDICTS.get(c.verdict) for c in cs])
    acceptance_probabilities = _Column(
        lambda cs: _array(cs, "acceptance_probability", np.float32))
    top_logprobs = _Column(
        lambda cs: [{t.token_id: t.logprob for t in c.top_logprobs} for c in cs])
    finish_reasons = _Column(lambda cs: [_FINISH.get(c.finish_reason) for c in cs])
    stop_matches = _Column(lambda cs: [
        StopMatch(c.stop_string, c.stop_string_trailing_bytes)
        if c.finish_reason == pb.FINISH_REASON_STOP_STRING else None for c in cs])
    errors = _Column(lambda cs: [TallyError.from_status(c.error) if c.HasField("error") else None
                                 for c in cs])

    def __len__(self) -> int:
        return len(self.choices)

    @property
    def finished(self) -> np.ndarray:
        """`np.ndarray[bool]`: True where the row's sequence ended (EOS, stop token or string)."""
        return np.array([r is not None for r in self.finish_reasons], dtype=bool)

    @property
    def ok(self) -> bool:
        """True when no row failed."""
        return all(e is None for e in self.errors)

    def raise_for_errors(self) -> "Result":
        """Raises the first row error, if any; returns self otherwise."""
        for e in self.errors:
            if e is not None:
                raise e
        return self

    def __repr__(self) -> str:
        return (f"Result(token_ids={self.token_ids.tolist()}, "
                f"finish_reasons={self.finish_reasons}, errors={sum(e is not None for e in self.errors)})")
