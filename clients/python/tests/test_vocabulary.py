"""Vocabularies and stop strings against the real server, on both transports: registration from
token bytes and from a tokenizer.json, stop strings across token boundaries in `Client.sample`
and in a session (appended tokens included), and the errors."""

import json
import numpy as np
import pytest

from tally_client import StopMatch, TallyError

# 0 "Hel", 1 "lo", 2 " wor", 3 "ld", 4 "!", 5 "<eos>" (special, EOS), 6 "\n", 7 "é";
# the logits are 10 wide (8 and 9 are padding).
TOKENS = [b"Hel", b"lo", b" wor", b"ld", b"!", b"<eos>", b"\n", "é".encode()]
WIDTH = 10


def rows(*best):
    logits = np.zeros((len(best), WIDTH), dtype=np.float32)
    for i, b in enumerate(best):
        logits[i, b] = 4.0
    return logits


@pytest.fixture
def toy(client, target):
    name = "toy-" + target.split(":")[0]
    client.register_vocabulary(name, tokens=TOKENS, special_token_ids=[5], eos_token_ids=[5])
    return name


def test_registration_is_idempotent_and_listed(client, target):
    name = "listed-" + target.split(":")[0]
    v = client.register_vocabulary(name, tokens=TOKENS, special_token_ids=[5], eos_token_ids=[5])
    assert (v.name, v.size, list(v.special_token_ids), list(v.eos_token_ids)) == (name, 8, [5], [5])
    assert v.token_bytes == sum(len(t) for t in TOKENS)
    assert len(v.fingerprint) == 64
    assert client.register_vocabulary(name, tokens=TOKENS, special_token_ids=[5],
                                      eos_token_ids=[5]) == v
    assert v in client.list_vocabularies()
    assert client.server_info().limits.max_vocabularies == 64


def test_other_tokens_under_a_taken_name_are_refused(client, toy):
    with pytest.raises(TallyError) as e:
        client.register_vocabulary(toy, tokens=[b"x", b"y"])
    assert e.value.reason == "VOCABULARY_EXISTS"
    assert e.value.field == "name"


def test_sample_ends_on_a_stop_string_across_tokens(client, toy):
    r = client.sample(rows(2, 2, 5), vocabulary=toy, stop=["xyz", "o w"], temperature=0,
                      histories=[([6], [0, 1]), ([], [0]), ([], [0])])
    assert r.token_ids.tolist() == [2, 2, 5]
    assert r.finish_reasons == ["stop_string", None, "eos"]  # "eos": the vocabulary's EOS id
    assert r.stop_matches == [StopMatch("o w", 2), None, None]  # "or" of " wor" follows it
    assert r.finished.tolist() == [True, False, True]


def test_a_session_ends_on_a_stop_string_over_appended_and_drawn_tokens(client, toy):
    with client.session() as s:
        s.add(1, vocabulary=toy, stop="world!", temperature=0)
        s.add(2, vocabulary=toy, stop="lo wo", temperature=0)
        s.append(2, [0, 1])  # "Hel" "lo", placed by the model server
        r = s.step([1, 2], rows(2, 2))
        assert r.finish_reasons == [None, "stop_string"]
        assert r.stop_matches[1] == StopMatch("lo wo", 1)
        assert s.step([1], rows(3)).finish_reasons == [None]
        r = s.step([1], rows(4))
        assert r.finish_reasons == ["stop_string"]
        assert r.stop_matches == [StopMatch("world!", 0)]


def test_a_tokenizer_json_registers_its_token_bytes(client, target):
    # Byte-level BPE (GPT-2's byte map): "Ġ" is a space, "Ċ" a newline; specials are not text.
    tokenizer = {
        "added_tokens": [{"id": 4, "content": "<|eot|>", "special": True}],
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"Hi": 0, "Ġthere": 1, "Ċ": 2, "!": 3}, "merges": []},
    }
    name = "bpe-" + target.split(":")[0]
    v = client.register_vocabulary(name, tokenizer_json=tokenizer, eos_token_ids=["<|eot|>"])
    assert (v.size, list(v.special_token_ids), list(v.eos_token_ids)) == (5, [4], [4])
    assert v.token_bytes == len(b"Hi" + b" there" + b"\n" + b"!")  # the special's bytes: none
    logits = np.zeros((1, 5), dtype=np.float32)
    logits[0, 2] = 3.0
    r = client.sample(logits, vocabulary=name, stop="e\n", temperature=0, histories=[([], [0, 1])])
    assert r.stop_matches == [StopMatch("e\n", 0)]


def test_unknown_vocabularies_and_stop_strings_without_one_are_refused(client):
    with pytest.raises(TallyError) as e:
        client.sample(rows(1), vocabulary="no-such-model", temperature=0)
    assert (e.value.reason, e.value.field) == ("UNKNOWN_VOCABULARY", "params[0].vocabulary")
    with pytest.raises(TallyError) as e:
        client.sample(rows(1), stop=["\n"], temperature=0)
    assert (e.value.reason, e.value.field) == ("INVALID_PARAMS", "params[0].stop_strings")
    with pytest.raises(TypeError):
        client.register_vocabulary("x", tokens=[b"a"], tokenizer_json={})


def test_structured_output_keeps_every_draw_inside_the_constraint(client, target):
    # Every single byte is a token (as in byte-level vocabularies), plus a few longer ones.
    tokens = [b"<eos>"] + [bytes([b]) for b in range(256)] + [b"red", b"gre", b"en", b"blue"]
    name = "bytes-" + target.split(":")[0]
    client.register_vocabulary(name, tokens=tokens, special_token_ids=[0], eos_token_ids=[0])
    rng = np.random.default_rng(7)
    for kind, spec, check in [
        ("choice", {"choice": ["red", "green", "blue"]}, lambda t: t in ("red", "green", "blue")),
        ("regex", {"regex": r"\d{2}:\d{2}"}, lambda t: len(t) == 5 and t[2] == ":"),
        ("json_schema", {"json_schema": {"enum": [1, 22, 333]}},
         lambda t: json.loads(t) in (1, 22, 333)),
    ]:
        for seed in range(20):
            text, out = b"", []
            for _ in range(40):  # whitespace around a JSON value is free
                r = client.sample(rng.normal(0, 2, (1, len(tokens))).astype(np.float32),
                                  vocabulary=name, structured_output=spec, seed=seed,
                                  histories=[([], out)])
                token = int(r.token_ids[0])
                if r.finish_reasons[0] == "eos":
                    break
                out.append(token)
                text += tokens[token]
            assert r.finish_reasons[0] == "eos", (kind, seed, text)
            assert check(text.decode()), (kind, seed, text)


def test_a_bad_constraint_names_its_construct(client, toy):
    with pytest.raises(TallyError) as e:
        client.sample(rows(1), vocabulary=toy, structured_output={"regex": r"(a)\1"})
    assert e.value.reason == "INVALID_PARAMS"
    assert e.value.field == "params[0].structured_output.regex"
    assert "backreferences" in str(e.value)
    with pytest.raises(TallyError) as e:
        client.sample(rows(1), vocabulary=toy, structured_output={"json_schema": {}})
    assert (e.value.reason, e.value.field) == ("INVALID_PARAMS",
                                               "params[0].structured_output.json_schema")
    assert "a schema without 'type' (any JSON value) at the root is not supported" in str(e.value)
    with pytest.raises(ValueError):
        client.sample(rows(1), vocabulary=toy, structured_output={"gbnf": "root ::= \"a\""})
