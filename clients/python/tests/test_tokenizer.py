"""tokenizer.json to token bytes (tally_client._tokenizer): the shared fixtures in
clients/testdata/tokenizers, which the server's TokenizerJsonTest checks against the same expected
files, plus hand-computed values and the error cases. Needs no server.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "testdata" / "tokenizers"
INVALID = FIXTURES / "invalid"

try:
    import tally_client._tokenizer as tok
except ImportError as e:
    # The package's __init__ needs grpc and numpy; this module needs neither, so without them (or
    # without the package on the path: a bare checkout) it is loaded from the source tree alone.
    # A package that imports but lacks the module is a packaging bug, and fails.
    if e.name == "tally_client._tokenizer":
        raise
    _spec = importlib.util.spec_from_file_location(
        "_tally_tokenizer", HERE.parent / "tally_client" / "_tokenizer.py")
    tok = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = tok
    _spec.loader.exec_module(tok)

decode = tok.decode_tokenizer_json

REQUIRED = ["byte_level_bpe", "sentencepiece_byte_fallback", "unigram_metaspace", "raw_wordlevel"]
NAMES = sorted(p.name[: -len(".json")] for p in FIXTURES.glob("*.json"))


@dataclasses.dataclass
class Expected:
    kind: str
    rows: list  # (id, bytes, special)
    id_of: list  # (piece, id or None)


def expected(name: str) -> Expected:
    kind, rows, id_of = None, [], []
    for number, line in enumerate((FIXTURES / f"{name}.expected.txt")
                                  .read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0] == "kind":
            kind = fields[1]
        elif fields[0] == "id_of":
            token_id = int(fields[2])
            id_of.append((json.loads(fields[1]), None if token_id < 0 else token_id))
        else:
            assert fields[2] in ("0", "1"), f"{name}.expected.txt:{number}: {line!r}"
            rows.append((int(fields[0]), bytes.fromhex(fields[1]), fields[2] == "1"))
    assert kind is not None, f"{name}.expected.txt has no kind line"
    assert [r[0] for r in rows] == list(range(len(rows))), f"{name}: ids must be 0, 1, 2, ..."
    return Expected(kind, rows, id_of)


def by_piece(vocab, piece: str) -> bytes:
    token_id = vocab.id_of(piece)
    assert token_id is not None, piece
    return vocab.tokens[token_id]


def test_the_four_required_fixtures_are_there():
    assert set(REQUIRED) <= set(NAMES)
    for name in NAMES:
        assert (FIXTURES / f"{name}.expected.txt").is_file(), name


@pytest.mark.parametrize("name", NAMES)
def test_fixture_decodes_to_its_expected_file(name):
    want = expected(name)
    got = decode(FIXTURES / f"{name}.json")
    assert got.kind == want.kind
    assert len(got.tokens) == len(want.rows)
    for token_id, data, special in want.rows:
        assert (got.tokens[token_id].hex(), token_id in got.special_token_ids) == \
            (data.hex(), special), f"{name}: id {token_id}"
    assert got.special_token_ids == [i for i, _, special in want.rows if special]
    assert want.id_of, f"{name}.expected.txt has no id_of lines"
    for piece, token_id in want.id_of:
        assert got.id_of(piece) == token_id, f"{name}: id_of({piece!r})"


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_of_source_gives_the_same_vocabulary(name):
    path = FIXTURES / f"{name}.json"
    text = path.read_text(encoding="utf-8")
    want = decode(path)
    for source in (str(path), text, "\n  " + text, path.read_bytes(), json.loads(text)):
        got = decode(source)
        assert (got.tokens, got.special_token_ids, got.kind) == \
            (want.tokens, want.special_token_ids, want.kind)
        assert got.id_of("<no such piece>") is None


def test_byte_level_values_computed_by_hand():
    v = decode(FIXTURES / "byte_level_bpe.json")
    assert v.kind == "byte_level"
    assert by_piece(v, "Ġthe") == b" the"
    assert by_piece(v, "Ċ") == b"\n"
    assert by_piece(v, "âĢĶ") == "—".encode() == bytes.fromhex("e28094")
    assert by_piece(v, "ðŁĺĢ") == "😀".encode() == bytes.fromhex("f09f9880")
    assert by_piece(v, "Ã©") == "é".encode()
    # A character split over two tokens: neither half is valid UTF-8, together they are.
    assert by_piece(v, "Ġâ") == b" \xe2" and by_piece(v, "ĢĶ") == b"\x80\x94"
    assert (by_piece(v, "Ġâ") + by_piece(v, "ĢĶ")).decode() == " —"
    assert by_piece(v, "Ā") == b"\x00" and by_piece(v, "ġ") == b"\x7f"
    assert by_piece(v, "ł") == b"\xa0" and by_piece(v, "Ń") == b"\xad"
    # Added tokens: special ones are no text; a non-special one is its content as UTF-8, even
    # where byte-level decoding would differ (the space and the é).
    assert v.id_of("<|begin_of_text|>") == 25 and v.tokens[25] == b""
    assert v.id_of("<|eot_id|>") == 26 and v.tokens[26] == b""
    assert by_piece(v, "<tool_call> é") == "<tool_call> é".encode()
    assert 24 in v.special_token_ids and v.tokens[24] == b""  # the gap
    assert v.special_token_ids == [24, 25, 26, 28, 31]


def test_byte_fallback_values_computed_by_hand():
    v = decode(FIXTURES / "sentencepiece_byte_fallback.json")
    assert v.kind == "byte_fallback"
    assert by_piece(v, "<0x0A>") == b"\n"
    assert by_piece(v, "<0xE2>") + by_piece(v, "<0x80>") + by_piece(v, "<0x94>") == "—".encode()
    assert by_piece(v, "▁hello") == b" hello"
    assert by_piece(v, "a▁b") == b"a b"
    assert by_piece(v, "<0xG0>") == b"<0xG0>"
    assert by_piece(v, "中") == b"\xe4\xb8\xad"
    assert v.special_token_ids == [0, 1, 2, 22]
    assert [v.tokens[i] for i in (0, 1, 2)] == [b"", b"", b""]


def test_unigram_values_computed_by_hand():
    v = decode(FIXTURES / "unigram_metaspace.json")
    assert v.kind == "raw"
    assert by_piece(v, "▁über") == b" \xc3\xbcber"
    assert by_piece(v, "<0x0A>") == b"<0x0A>"  # no ByteFallback step
    assert v.tokens[13] == b"s" and v.id_of("s") == 6
    assert v.special_token_ids == [0, 1, 2, 14, 15, 16]


def test_raw_values_computed_by_hand():
    v = decode(FIXTURES / "raw_wordlevel.json")
    assert v.kind == "raw"
    assert by_piece(v, "Ġnot_mapped") == b"\xc4\xa0not_mapped"
    assert by_piece(v, "▁kept") == b"\xe2\x96\x81kept"
    assert v.id_of("") == 7 and v.tokens[7] == b"" and 7 not in v.special_token_ids


def gpt2_bytes_to_unicode():
    """GPT-2's encoder.py, as published, as an independent oracle for the whole table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def test_all_256_bytes_round_trip_through_gpt2s_table():
    table = gpt2_bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    vocab[table[0xE2] + table[0x82] + table[0xAC]] = 256  # the euro sign
    v = decode({"decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": vocab}})
    assert v.tokens[:256] == [bytes([b]) for b in range(256)]
    assert v.tokens[256] == "€".encode()
    assert v.special_token_ids == []


def test_decoded_vocabulary_is_frozen():
    v = decode(FIXTURES / "raw_wordlevel.json")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.kind = "byte_level"


def error_cases():
    cases = []
    for line in (INVALID / "errors.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, substring = line.split("\t")
            cases.append((name, substring))
    return cases


def test_every_invalid_fixture_has_an_expected_error():
    listed = {name for name, _ in error_cases()}
    on_disk = {p.name for p in INVALID.iterdir() if p.name != "errors.txt"}
    assert listed == on_disk


@pytest.mark.parametrize("name,substring", error_cases())
def test_invalid_fixture_is_refused_with_a_clear_message(name, substring):
    path = INVALID / name
    with pytest.raises(ValueError) as e:
        decode(path)
    assert e.type is ValueError  # wrapped, not a bare JSONDecodeError or UnicodeError
    message = str(e.value)
    assert message.startswith(f"{path}: ")
    assert substring in message


def test_unsupported_decoder_is_named():
    with pytest.raises(ValueError, match=r'^unsupported decoder type "WordPiece" at decoder '):
        decode({"decoder": {"type": "WordPiece"}, "model": {"vocab": {"a": 0}}})
    with pytest.raises(ValueError, match=r'"CTC" at decoder\.decoders\[2\]'):
        decode({"decoder": {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "CTC"}]},
            "model": {"vocab": {"a": 0}}})


def test_a_character_outside_the_byte_level_alphabet_names_piece_id_and_character():
    with pytest.raises(ValueError) as e:
        decode({"decoder": {"type": "ByteLevel"}, "model": {"vocab": {"a": 0, "x\ty": 1}}})
    assert str(e.value) == ('model.vocab piece "x\\ty" (id 1) has the character U+0009, which is '
                            "not in the byte-level alphabet (GPT-2's bytes_to_unicode)")


def test_malformed_json_is_a_value_error_with_the_position():
    with pytest.raises(ValueError) as e:
        decode('{"model": {"vocab": {"a": 0,}}}')
    assert e.type is ValueError
    assert str(e.value).startswith("not valid JSON: ") and "column 29" in str(e.value)
    with pytest.raises(ValueError, match="^not valid UTF-8$"):
        decode(b'{"model": {"vocab": {"\xff": 0}}}')


def test_a_missing_file_is_an_os_error_and_a_bad_source_a_type_error():
    with pytest.raises(FileNotFoundError):
        decode(FIXTURES / "no-such-tokenizer.json")
    with pytest.raises(TypeError):
        decode(42)


def test_duplicate_keys_in_parsed_text_but_not_in_a_dict():
    text = '{"model": {"vocab": {"a": 0, "a": 0, "b": 1}}}'  # the same id twice: harmless
    assert decode(text).tokens == [b"a", b"b"]
    with pytest.raises(ValueError, match=r'duplicate key "content" in added_tokens\[0\]'):
        decode('{"added_tokens": [{"id": 1, "content": "x", "content": "y"}],'
               ' "model": {"vocab": {"a": 0}}}')


def test_a_null_decoder_with_a_byte_level_pre_tokenizer_in_a_sequence_is_byte_level():
    pre = {"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel"}]}
    v = decode({"decoder": None, "pre_tokenizer": pre, "model": {"vocab": {"Ġx": 0}}})
    assert (v.kind, v.tokens) == ("byte_level", [b" x"])
    v = decode({"decoder": None, "pre_tokenizer": {"type": "Metaspace"},
                "model": {"vocab": {"▁x": 0}}})
    assert (v.kind, v.tokens) == ("raw", ["▁x".encode()])


def test_a_byte_fallback_sequence_without_replace_keeps_the_metaspace():
    # Only a Replace (or Metaspace) step turns ▁ into a space; ByteFallback alone does not.
    v = decode({"decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"},
                                                             {"type": "Fuse"}]},
                "model": {"vocab": {"▁x": 0, "<0x41>": 1}}})
    assert (v.kind, v.tokens) == ("byte_fallback", ["▁x".encode(), b"A"])
