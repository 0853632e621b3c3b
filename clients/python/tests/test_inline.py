"""`InlineRequest`: the one-copy encoding of a request with inline logits parses to exactly the
message protobuf builds the slow way (no server needed)."""

import numpy as np
import pytest

from tally_client import sampler_pb2 as pb, to_logits
from tally_client._tensor import InlineRequest

rng = np.random.default_rng(7)


@pytest.mark.parametrize("logits", [
    pytest.param(rng.normal(size=(3, 50)).astype(np.float32), id="float32"),
    pytest.param(rng.normal(size=(2, 7)).astype(np.float16), id="float16"),
    pytest.param(rng.integers(0, 1 << 16, size=(4, 33), dtype=np.uint16), id="bfloat16-bits"),
    pytest.param(rng.normal(size=(5, 40)).astype(np.float32)[::2, 3:], id="strided"),
    pytest.param(rng.normal(size=300).astype(">f4"), id="big-endian-1d"),
    # Lengths whose varints take 1, 2 and 3 bytes.
    pytest.param(np.zeros((1, 20), np.float32), id="80-bytes"),
    pytest.param(np.zeros((1, 4000), np.float32), id="16000-bytes"),
    pytest.param(np.zeros((2, 40000), np.float16), id="160000-bytes"),
])
@pytest.mark.parametrize("message", [
    pb.SampleRequest(params=[pb.SamplingParams(temperature=0.5, top_k=3)],
                     histories=[pb.TokenHistory(prompt_token_ids=[1, 2])]),
    pb.SessionRequest(step_id=9, row_sequence_ids=[1, 2, 3], removed=[4],
                      added=[pb.Sequence(id=5, prompt_token_ids=[7])]),
], ids=["SampleRequest", "SessionRequest"])
def test_inline_request_parses_to_the_same_message(message, logits):
    wire = InlineRequest(logits, message).SerializeToString()
    expected = type(message)()
    expected.CopyFrom(message)
    expected.logits.CopyFrom(to_logits(logits))
    assert type(message).FromString(wire) == expected


def test_a_request_with_logits_already_is_refused():
    with pytest.raises(ValueError):
        InlineRequest(np.zeros((1, 4), np.float32),
                      pb.SampleRequest(logits=to_logits(np.zeros((1, 4), np.float32)))
                      ).SerializeToString()
