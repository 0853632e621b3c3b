"""Bytes that do not parse as the request type, through Debian's grpcio: INVALID_ARGUMENT with
reason MALFORMED_REQUEST, for Sample and in-band in a Session (step_id 0), and the server goes on
serving. The bytes go after a well-formed gRPC prefix (grpcio frames them; no serializer)."""

import queue
import threading

import grpc
import numpy as np
import pytest

from tally_client import TallyError, sampler_pb2 as pb

SAMPLE = "/tally.v1.Sampler/Sample"
SESSION = "/tally.v1.Sampler/Session"
TRUNCATED = "the input ended unexpectedly in the middle of a field"


def f32(rows, vocab, values):
    return pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=rows, vocab_size=vocab,
                     data=np.asarray(values, dtype="<f4").tobytes())


GOOD_SAMPLE = pb.SampleRequest(params=[pb.SamplingParams(temperature=0)],
                               logits=f32(2, 4, [0, 1, 3, 2, 5, 1, 0, 2])).SerializeToString()


def cases(valid: bytes, bad_string: bytes):
    return [
        ("truncated", valid[:-3], TRUNCATED),
        ("over-long varint", b"\xff" * 11 + b"\x01", "malformed varint"),
        ("wrong wire type", b"\x0f\x01", "invalid wire type"),
        ("length past the end", b"\x7a\x64\x01\x02\x03", TRUNCATED),
        ("invalid UTF-8", bad_string, "invalid UTF-8"),
    ]


# SampleRequest.params[0].processors[0].name and SessionRequest.unregister_shared_memory[0],
# each holding 0xC3 0x28 (a UTF-8 lead byte, then no continuation byte).
SAMPLE_BAD_STRING = b"\x0a\x07\xaa\x01\x04\x0a\x02\xc3\x28"
STEP_BAD_STRING = b"\x3a\x02\xc3\x28"


def assert_malformed(error: TallyError, size: int, type_name: str, complaint: str):
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "MALFORMED_REQUEST"
    assert error.field is None
    assert error.message.startswith(f"the request's {size} bytes do not parse as {type_name}: ")
    assert complaint in error.message


@pytest.mark.parametrize("name, payload, complaint", [
    pytest.param(*c, id=c[0]) for c in cases(GOOD_SAMPLE, SAMPLE_BAD_STRING)])
def test_malformed_sample(target, tally_server, name, payload, complaint):
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(SAMPLE)  # bytes in, bytes out
        with pytest.raises(grpc.RpcError) as e:
            call(payload, timeout=30)
        assert_malformed(TallyError.from_rpc_error(e.value), len(payload),
                         "tally.v1.SampleRequest", complaint)
        ok = pb.SampleResponse.FromString(call(GOOD_SAMPLE, timeout=30))
        assert [c.token_id for c in ok.choices] == [2, 0]
    assert "SEVERE" not in tally_server.log_text()


class RawSession:
    """A Session whose requests are raw bytes; one response per request, in order."""

    def __init__(self, channel):
        self._requests = queue.Queue()
        self._responses = channel.stream_stream(SESSION)(iter(self._requests.get, None),
                                                        timeout=60)

    def step(self, payload: bytes) -> pb.SessionResponse:
        self._requests.put(payload)
        return pb.SessionResponse.FromString(next(self._responses))

    def close(self):
        self._requests.put(None)
        for _ in self._responses:
            pass


def test_malformed_steps_are_answered_in_band(target, tally_server):
    with grpc.insecure_channel(target) as channel:
        session = RawSession(channel)
        added = session.step(pb.SessionRequest(step_id=1, added=[
            pb.Sequence(id=5, params=pb.SamplingParams(temperature=0))]).SerializeToString())
        assert not added.HasField("error")
        step_id = 2
        good = pb.SessionRequest(step_id=99, row_sequence_ids=[5], logits=f32(1, 4, [0, 1, 3, 2]))
        for name, payload, complaint in cases(good.SerializeToString(), STEP_BAD_STRING):
            r = session.step(payload)
            assert r.step_id == 0, name
            assert not r.choices
            assert_malformed(TallyError.from_status(r.error), len(payload),
                             "tally.v1.SessionRequest", complaint)
            good.step_id = step_id
            ok = session.step(good.SerializeToString())
            assert ok.step_id == step_id and not ok.HasField("error"), ok
            assert [c.token_id for c in ok.choices] == [2]
            step_id += 1
        session.close()
    assert "SEVERE" not in tally_server.log_text()
