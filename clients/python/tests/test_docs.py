"""docs/clients.md: every grpcurl request body parses, with protobuf's JSON mapping as grpcurl
uses it, into its method's request message, and the real server answers it as the page says."""

import base64
import json
import re

import grpc
import numpy as np
from google.protobuf import json_format

from conftest import REPO
from tally_client import TallyError, sampler_pb2 as pb

DOC = REPO / "docs" / "clients.md"
COMMAND = re.compile(r"grpcurl -plaintext (?:-unix \S+ )?-d '(.*?)' (\S+) (\S+)", re.S)
REQUESTS = {
    "GetServerInfo": pb.GetServerInfoRequest,
    "ListProcessors": pb.ListProcessorsRequest,
    "Sample": pb.SampleRequest,
    "Session": pb.SessionRequest,
}


def commands():
    found = COMMAND.findall(DOC.read_text())
    assert len(found) >= 6, "the grpcurl examples moved: update this test"
    return found


def messages(body, cls):
    """The JSON messages of a -d body (a stream for Session), as grpcurl reads them."""
    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(body):
        if body[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(body, pos)
        out.append(json_format.ParseDict(obj, cls()))
    return out


def test_base64_tensors_are_what_the_page_says():
    text = DOC.read_text()
    rows = np.array([[1, 3, 2, 0.5], [0, 0, 4, 1]], "<f4")
    assert base64.b64encode(rows.tobytes()).decode() in text


def test_grpcurl_bodies_against_the_server(client):
    answers = {}
    for body, address, method in commands():
        service, name = method.split("/")
        if service == "grpc.health.v1.Health":
            check = client.channel.unary_unary(f"/{method}")
            assert check(b"", timeout=10) == b"\x08\x01"  # SERVING
            continue
        assert service == "tally.v1.Sampler" and address == "localhost:50051"
        reqs = messages(body, REQUESTS[name])
        if name == "Session":
            responses = list(client.stub.Session(iter(reqs), timeout=30))
            assert [r.step_id for r in responses] == [q.step_id for q in reqs]
            assert not any(r.HasField("error") for r in responses)
            assert [len(r.choices) for r in responses] == [len(q.row_sequence_ids) for q in reqs]
            answers.setdefault(name, []).append(responses)
            continue
        (req,) = reqs
        try:
            answers.setdefault(name, []).append(getattr(client.stub, name)(req, timeout=30))
        except grpc.RpcError as e:
            answers.setdefault(name + "!", []).append(TallyError.from_rpc_error(e))
    greedy = answers["Sample"][0]
    assert [c.token_id for c in greedy.choices] == [1, 2]  # "The expected tokens are 1 and 2"
    assert all(len(c.top_logprobs) == 2 for c in greedy.choices)
    (refused,) = answers["Sample!"]
    assert (refused.code, refused.reason, refused.field) == \
        (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMS", "params[0].top_p")
    assert answers["GetServerInfo"][0].version
    assert answers["ListProcessors"][0].processors
    assert len(answers["Session"]) == 1
