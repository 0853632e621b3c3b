"""gRPC errors become TallyError: status code, Tally error code (ErrorInfo.reason), field."""

import grpc
import numpy as np
import pytest

from tally_client import Client, TallyError, sampler_pb2 as pb
from toy_model import toy_batch

VOCAB = 100


def refused(client, **kwargs):
    logits = kwargs.pop("logits", toy_batch([1, 2], VOCAB))
    with pytest.raises(TallyError) as e:
        client.sample(logits, **kwargs)
    return e.value


@pytest.mark.parametrize("sampling, field", [
    (dict(top_p=1.5), "params[0].top_p"),
    (dict(temperature=-1), "params[0].temperature"),
    (dict(min_p=2.0), "params[0].min_p"),
    (dict(presence_penalty=3.0), "params[0].presence_penalty"),
    (dict(repetition_penalty=0.0), "params[0].repetition_penalty"),
])
def test_invalid_params(client, sampling, field):
    e = refused(client, **sampling)
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.reason == "INVALID_PARAMS"
    assert e.field == field
    assert e.field_violations and e.field_violations[0][0] == field
    assert e.message and e.message in str(e)
    assert e.metadata.get("field") == field
    assert e.status is not None and e.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_per_row_field(client):
    e = refused(client, params=[{"temperature": 0}, {"top_p": 0}])
    assert e.field == "params[1].top_p"


def test_token_id_out_of_range(client):
    e = refused(client, banned_token_ids=[VOCAB + 5])
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.field.startswith("params[0].banned_token_ids")


def test_unknown_processor(client):
    e = refused(client, processors=[{"name": "no_such_sampler", "params": {}}])
    assert e.code == grpc.StatusCode.NOT_FOUND
    assert e.reason == "UNKNOWN_PROCESSOR"
    assert "top_k" in e.message  # the message lists the known names
    assert e.field == "params[0].processors[0].name"


def test_pipeline_with_convenience_fields(client):
    e = refused(client, pipeline=[("top_k", {"k": 5}), "draw"], temperature=0.5)
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT and e.reason == "INVALID_PARAMS"


def test_pipeline_runs(client):
    logits = toy_batch([1, 2], VOCAB)
    r = client.sample(logits, pipeline=[("top_k", {"k": 1}), {"name": "draw"}], seed=1)
    assert r.token_ids.tolist() == np.argmax(logits, axis=1).tolist()


def test_limit_exceeded(client):
    limit = client.server_info().limits.max_top_logprobs
    e = refused(client, top_logprobs=limit + 1)
    assert e.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert e.reason == "LIMIT_EXCEEDED"


def test_bad_tensor(client):
    bad = pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=2, vocab_size=VOCAB, data=b"\0" * 10)
    e = refused(client, logits=bad, temperature=0)
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.reason == "INVALID_TENSOR"
    assert e.field and e.field.startswith("logits")


def test_row_errors_do_not_raise(client):
    logits = toy_batch([1, 2, 3], VOCAB)
    logits[0, 3] = np.inf
    logits[2, :] = -np.inf
    r = client.sample(logits, temperature=0)
    assert r.token_ids.tolist()[0] == -1 and r.token_ids[1] >= 0 and r.token_ids[2] == -1
    assert r.errors[0].reason == "INVALID_LOGITS"
    assert r.errors[0].code == grpc.StatusCode.INVALID_ARGUMENT
    assert r.errors[1] is None
    assert r.errors[2].reason == "NO_CANDIDATES"
    assert r.errors[2].code == grpc.StatusCode.FAILED_PRECONDITION


def test_unknown_keyword_is_a_type_error(client):
    with pytest.raises(TypeError, match="did you mean 'top_p'"):
        client.sample(toy_batch([1], VOCAB), topp=0.9)
    with pytest.raises(TypeError):
        client.sample(toy_batch([1], VOCAB), params={"temperature": 0}, top_k=3)
    with pytest.raises(ValueError, match="top_logprobs_mode"):
        client.sample(toy_batch([1], VOCAB), top_logprobs_mode="cooked")


def test_no_server(tmp_path):
    with Client(f"unix:{tmp_path}/nobody.sock", timeout=5) as c:
        with pytest.raises(TallyError) as e:
            c.server_info()
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
    assert e.value.reason is None and e.value.field is None
    with Client(f"unix:{tmp_path}/nobody.sock") as c:
        with pytest.raises(TallyError) as e:
            c.wait_ready(timeout=0.2)
    assert e.value.code == grpc.StatusCode.UNAVAILABLE


def test_session_stream_failure(tmp_path):
    with Client(f"unix:{tmp_path}/nobody.sock") as c:
        with pytest.raises(TallyError) as e:
            with c.session() as s:
                s.add(1, temperature=0)
                s.step([1], toy_batch([1], VOCAB))
    assert e.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls_options(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    # the arguments are accepted as bytes or paths; no server: nothing connects
    for kwargs in (dict(tls=True), dict(root_certificates=str(pem)),
                   dict(root_certificates=pem.read_bytes(), server_hostname="tally.internal")):
        with Client("127.0.0.1:1", **kwargs) as c:
            assert c.stub is not None
