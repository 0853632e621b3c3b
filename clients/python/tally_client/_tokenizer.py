"""Hugging Face `tokenizer.json` to each token id's raw bytes, and which ids are special.

    from tally_client._tokenizer import decode_tokenizer_json

    vocab = decode_tokenizer_json("Meta-Llama-3-8B/tokenizer.json")
    vocab.tokens[id]          # bytes the token adds to the output (b"" for special ids and gaps)
    vocab.special_token_ids   # ascending
    vocab.kind                # "byte_level", "byte_fallback" or "raw"
    vocab.id_of("<|eot_id|>")

The rules are the server's (`dev.tally.server.vocab.TokenizerJson`); both are checked against the
same fixtures in `clients/testdata/tokenizers`:

* tokens come from `model.vocab` (piece -> id for BPE/WordLevel; for Unigram a list of
  `[piece, score]` whose index is the id) and `added_tokens`, which override the model entry with
  the same id. A special added token is no text (b""); any other added token is its `content` as
  UTF-8. An id no token has (a gap) is special with b"".
* the `decoder` section (without one, `pre_tokenizer`) says how a model piece becomes bytes:
  `ByteLevel` maps each character back to one byte through the inverse of GPT-2's
  `bytes_to_unicode` ("byte_level"; also a null decoder with a ByteLevel pre-tokenizer); a
  `ByteFallback` step makes `<0xNN>` the byte NN ("byte_fallback"); a `Replace` of "▁" by " " or a
  `Metaspace` step turns every other piece's "▁" into a space before UTF-8 encoding; no decoder
  means the piece's UTF-8 bytes ("raw"). `Fuse` and `Strip` are ignored (they act on a whole
  decoded sequence, not one token). Any other decoder is a ValueError, never a guess.

Standard library only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

__all__ = ["DecodedVocabulary", "decode_tokenizer_json"]

# Ids at or above this are refused, so that a stray id cannot allocate gigabytes (as the server).
MAX_SIZE = 1 << 24

BYTE_LEVEL = "byte_level"
BYTE_FALLBACK = "byte_fallback"
RAW = "raw"

_METASPACE = "\u2581"
_HEX = frozenset("0123456789abcdefABCDEF")
_SUPPORTED = "ByteLevel, ByteFallback, Metaspace, Replace, Fuse, Strip, Sequence"


def _byte_level_alphabet() -> Dict[int, int]:
    """GPT-2's bytes_to_unicode, inverted: code point -> byte. The printable Latin-1 bytes
    (33..126, 161..172, 174..255) are their own code point; the other 68 are U+0100, U+0101, ...
    in increasing byte order."""
    byte_of: Dict[int, int] = {}
    following = 256
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or b >= 174:
            byte_of[b] = b
        else:
            byte_of[following] = b
            following += 1
    return byte_of


_BYTE_OF_CHAR = _byte_level_alphabet()
# str.translate to one char per byte, then latin-1: one C-speed pass per piece. A character outside
# the alphabet becomes U+FFFF, which latin-1 refuses, and is then reported by name.
_TO_LATIN1 = {cp: chr(b) for cp, b in _BYTE_OF_CHAR.items()}
_TO_LATIN1.update({cp: "\uffff" for cp in range(256) if cp not in _BYTE_OF_CHAR})


@dataclass(frozen=True)
class DecodedVocabulary:
    """A decoded tokenizer.json.

    Attributes:
        tokens: index = id; the bytes the token adds to the output, b"" for special ids and gaps.
        special_token_ids: special added tokens and gap ids, ascending.
        kind: how model pieces were decoded: "byte_level", "byte_fallback" or "raw".
    """

    tokens: List[bytes]
    special_token_ids: List[int]
    kind: str
    _ids: Dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def id_of(self, piece: str) -> Optional[int]:
        """The id of the token whose tokenizer.json string is `piece`: an `added_tokens` content
        first (as Hugging Face's `token_to_id` looks), else a `model.vocab` piece; None if
        neither."""
        return self._ids.get(piece)

    @property
    def size(self) -> int:
        return len(self.tokens)


class _Duplicates(dict):
    """A JSON object that had a key more than once: `duplicates` holds (key, first, last)."""

    duplicates: List[Tuple[str, Any, Any]] = []


def _object(pairs: List[Tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) == len(pairs):
        return d
    first: Dict[str, Any] = {}
    dups = []
    for key, value in pairs:
        if key in first:
            dups.append((key, first[key], value))
        else:
            first[key] = value
    marked = _Duplicates(d)
    marked.duplicates = dups
    return marked


def _no_constant(name: str) -> Any:
    raise ValueError(f"not valid JSON: {name} is not a JSON value")


def _parse(text: str) -> Any:
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark: the server's JSON reader skips one too
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None


def _load(source: Union[str, bytes, bytearray, os.PathLike, dict]) -> Tuple[Any, Optional[str]]:
    """The parsed document and, when `source` named a file, its path (for messages)."""
    if isinstance(source, dict):
        return source, None
    if isinstance(source, (bytes, bytearray)):
        return _parse(_utf8(bytes(source))), None
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _parse(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as f:
            data = f.read()
        try:
            return _parse(_utf8(data)), str(path)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    raise TypeError("source must be a path, JSON text (str or bytes) or a parsed dict, not "
                    f"{type(source).__name__}")


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None


def decode_tokenizer_json(source: Union[str, bytes, bytearray, os.PathLike, dict]
                          ) -> DecodedVocabulary:
    """Decodes a tokenizer.json: `source` is a path (str or os.PathLike), JSON text (a str starting
    with "{", or bytes) or the already-parsed dict.

    Raises:
        ValueError: the content is not a supported tokenizer.json; the message says what is wrong
            and where, and starts with the file's path when `source` was one.
        OSError: the file cannot be read.
    """
    document, path = _load(source)
    try:
        return _decode(document)
    except ValueError as e:
        if path is None:
            raise
        raise ValueError(f"{path}: {e}") from None


def _decode(document: Any) -> DecodedVocabulary:
    if not isinstance(document, dict):
        raise ValueError(f"the top level must be a JSON object, not {_kind(document)}")
    _unique(document, "the top level")
    if "model" not in document:
        raise ValueError('no "model" section')
    model = document["model"]
    if not isinstance(model, dict):
        raise ValueError(f"model must be an object, not {_kind(model)}")
    _unique(model, "model")
    if "vocab" not in model:
        raise ValueError('model has no "vocab"')
    pieces, is_list = _model_pieces(model["vocab"])
    added = _added_tokens(document.get("added_tokens"))
    _check_vocab_shape(model.get("type"), is_list)
    scheme = _Scheme.of(document.get("decoder"), document.get("pre_tokenizer"))

    size = max([len(pieces)] + [token_id + 1 for _, token_id, _, _ in added])
    if size == 0:
        raise ValueError("no tokens: model.vocab and added_tokens are both empty")
    added_by_id: Dict[int, Tuple[int, int, str, bool]] = {}
    for entry in added:
        index, token_id, content, special = entry
        old = added_by_id.get(token_id)
        if old is not None and (old[2], old[3]) != (content, special):
            raise ValueError(f"added_tokens[{old[0]}] and added_tokens[{index}] both have id "
                             f"{token_id}")
        added_by_id[token_id] = entry

    tokens: List[bytes] = []
    specials: List[int] = []
    for token_id in range(size):
        entry = added_by_id.get(token_id)
        piece = pieces[token_id] if token_id < len(pieces) else None
        if entry is not None:
            if entry[3]:
                tokens.append(b"")
                specials.append(token_id)
            else:
                tokens.append(_utf8_strict(entry[2], False, "added_tokens content", token_id))
        elif piece is not None:
            tokens.append(scheme.decode(piece, token_id))
        else:
            tokens.append(b"")
            specials.append(token_id)
    return DecodedVocabulary(tokens, specials, scheme.kind, _index(pieces, is_list, added))


def _model_pieces(vocab: Any) -> Tuple[List[Optional[str]], bool]:
    """Pieces by id (None for an id the model does not have) and whether vocab was a list."""
    if isinstance(vocab, dict):
        for key, first, last in getattr(vocab, "duplicates", ()):
            low, high = sorted(_id(v, lambda: f"model.vocab[{_quote(key)}]") for v in (first, last))
            if low != high:
                raise ValueError(f"model.vocab has the key {_quote(key)} twice (ids {low} and "
                                 f"{high})")
        by_id: Dict[int, str] = {}
        for piece, value in vocab.items():
            token_id = _id(value, lambda: f"model.vocab[{_quote(piece)}]")
            old = by_id.get(token_id)
            if old is not None and old != piece:
                raise ValueError(f"model.vocab gives id {token_id} to both {_quote(old)} and "
                                 f"{_quote(piece)}")
            by_id[token_id] = piece
        pieces: List[Optional[str]] = [None] * (max(by_id) + 1 if by_id else 0)
        for token_id, piece in by_id.items():
            pieces[token_id] = piece
        return pieces, False
    if isinstance(vocab, list):
        if len(vocab) > MAX_SIZE:
            raise ValueError(f"model.vocab has more than {MAX_SIZE} entries")
        pieces = []
        for token_id, pair in enumerate(vocab):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                    and _is_number(pair[1])):
                raise ValueError(f"model.vocab[{token_id}] must be a [piece, score] pair")
            pieces.append(pair[0])
        return pieces, True
    raise ValueError("model.vocab must be an object (piece to id) or a list of [piece, score], "
                     f"not {_kind(vocab)}")


def _added_tokens(value: Any) -> List[Tuple[int, int, str, bool]]:
    """(index, id, content, special) per added token."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"added_tokens must be a list, not {_kind(value)}")
    out = []
    for index, token in enumerate(value):
        where = f"added_tokens[{index}]"
        if not isinstance(token, dict):
            raise ValueError(f"{where} must be an object, not {_kind(token)}")
        _unique(token, where)
        token_id = _id(token["id"], lambda: f"{where}.id") if "id" in token else None
        content = token.get("content")
        if "content" in token and not isinstance(content, str):
            raise ValueError(f"{where}.content must be a string, not {_kind(content)}")
        special = token.get("special", False)
        if not isinstance(special, bool):
            raise ValueError(f"{where}.special must be true or false, not {_kind(special)}")
        if token_id is None:
            raise ValueError(f'{where} has no "id"')
        if content is None:
            raise ValueError(f'{where} has no "content"')
        out.append((index, token_id, content, special))
    return out


def _id(value: Any, where) -> int:
    """A token id: a JSON integer in [0, MAX_SIZE); `where` is called only for an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where()} must be an integer id, not {_kind(value)}")
    if isinstance(value, float):
        raise ValueError(f"{where()} must be an integer id, not {value!r}")
    if value < 0:
        raise ValueError(f"{where()} is a negative id: {value}")
    if value >= MAX_SIZE:
        raise ValueError(f"{where()} is {value}, above the largest supported id {MAX_SIZE - 1}")
    return value


def _check_vocab_shape(model_type: Any, is_list: bool) -> None:
    if model_type == "Unigram" and not is_list:
        raise ValueError('model.type is "Unigram" but model.vocab is an object, not a list of '
                         "[piece, score]")
    if model_type in ("BPE", "WordLevel", "WordPiece") and is_list:
        raise ValueError(f"model.type is {_quote(model_type)} but model.vocab is a list, not an "
                         "object (piece to id)")


def _index(pieces: List[Optional[str]], is_list: bool,
           added: List[Tuple[int, int, str, bool]]) -> Dict[str, int]:
    """piece -> id. Added tokens win over model pieces, the first of them over later ones; a
    Unigram list may repeat a piece (the first wins). Duplicate keys of a vocab object were caught
    while parsing."""
    ids: Dict[str, int] = {}
    for token_id, piece in enumerate(pieces):
        if piece is not None and piece not in ids:
            ids[piece] = token_id
    seen = set()
    for _, token_id, content, _ in added:
        if content not in seen:
            seen.add(content)
            ids[content] = token_id
    return ids


class _Scheme:
    """How model pieces become bytes, from the decoder (or pre-tokenizer) section."""

    def __init__(self, kind: str, byte_level: bool, byte_fallback: bool, metaspace: bool):
        self.kind = kind
        self.byte_level = byte_level
        self.byte_fallback = byte_fallback
        self.metaspace = metaspace

    @classmethod
    def of(cls, decoder: Any, pre_tokenizer: Any) -> "_Scheme":
        if decoder is None:
            if _has_byte_level(pre_tokenizer):
                return cls(BYTE_LEVEL, True, False, False)
            return cls(RAW, False, False, False)
        steps = _Steps()
        steps.add(decoder, "decoder")
        if steps.byte_level and (steps.byte_fallback or steps.metaspace):
            mixed = "ByteFallback" if steps.byte_fallback else 'a "▁" replacement'
            raise ValueError(f"unsupported decoder: it mixes ByteLevel with {mixed}")
        kind = BYTE_LEVEL if steps.byte_level else BYTE_FALLBACK if steps.byte_fallback else RAW
        return cls(kind, steps.byte_level, steps.byte_fallback, steps.metaspace)

    def decode(self, piece: str, token_id: int) -> bytes:
        if self.byte_level:
            return _byte_level(piece, token_id)
        if self.byte_fallback and _is_byte_token(piece):
            return bytes([int(piece[3:5], 16)])
        return _utf8_strict(piece, self.metaspace, "model.vocab piece", token_id)


def _has_byte_level(pre_tokenizer: Any) -> bool:
    """A null decoder with a ByteLevel pre-tokenizer, alone or in a Sequence, is byte-level."""
    if not isinstance(pre_tokenizer, dict):
        return False
    if pre_tokenizer.get("type") == "ByteLevel":
        return True
    members = pre_tokenizer.get("pretokenizers")
    if pre_tokenizer.get("type") == "Sequence" and isinstance(members, list):
        return any(_has_byte_level(m) for m in members)
    return False


class _Steps:
    """The decoder's steps, a Sequence flattened: what each means for one token's bytes."""

    def __init__(self) -> None:
        self.byte_level = False
        self.byte_fallback = False
        self.metaspace = False  # "▁" becomes a space

    def add(self, step: Any, where: str) -> None:
        if not isinstance(step, dict):
            raise ValueError(f"{where} must be an object, not {_describe(step)}")
        kind = step.get("type")
        if not isinstance(kind, str):
            raise ValueError(f'{where} has no "type"')
        if kind == "Sequence":
            members = step.get("decoders")
            if not isinstance(members, list):
                raise ValueError(f'{where} is a Sequence without a "decoders" list')
            for i, member in enumerate(members):
                self.add(member, f"{where}.decoders[{i}]")
        elif kind == "ByteLevel":
            self.byte_level = True
        elif kind == "ByteFallback":
            self.byte_fallback = True
        elif kind == "Metaspace":
            replacement = step.get("replacement")
            if replacement is not None and replacement != _METASPACE:
                raise ValueError(f"unsupported Metaspace decoder at {where}: its replacement is "
                                 f'{_describe(replacement)}; only "▁" is supported')
            self.metaspace = True
        elif kind == "Replace":
            _check_replace(step, where)
            self.metaspace = True
        elif kind in ("Fuse", "Strip"):
            pass  # whole-sequence steps: they join or trim the text, per token nothing
        else:
            raise ValueError(f"unsupported decoder type {_quote(kind)} at {where} "
                             f"(supported: {_SUPPORTED})")


def _check_replace(step: dict, where: str) -> None:
    pattern, content = step.get("pattern"), step.get("content")
    if isinstance(pattern, dict) and pattern.get("String") == _METASPACE and content == " ":
        return
    if isinstance(pattern, dict) and isinstance(pattern.get("String"), str):
        what = _quote(pattern["String"])
    elif isinstance(pattern, dict) and isinstance(pattern.get("Regex"), str):
        what = f"the regex {_quote(pattern['Regex'])}"
    else:
        what = _describe(pattern)
    raise ValueError(f"unsupported Replace decoder at {where}: it replaces {what} with "
                     f'{_describe(content)}; only "▁" with " " is supported')


def _is_byte_token(piece: str) -> bool:
    """Exactly `<0xNN>`, two hex digits of either case (as Hugging Face's ByteFallback)."""
    return (len(piece) == 6 and piece.startswith("<0x") and piece[5] == ">"
            and piece[3] in _HEX and piece[4] in _HEX)


def _byte_level(piece: str, token_id: int) -> bytes:
    try:
        return piece.translate(_TO_LATIN1).encode("latin-1")
    except UnicodeEncodeError:
        bad = next(c for c in piece if ord(c) not in _BYTE_OF_CHAR)
        raise ValueError(f"model.vocab piece {_quote(piece)} (id {token_id}) has the character "
                         f"U+{ord(bad):04X}, which is not in the byte-level alphabet (GPT-2's "
                         "bytes_to_unicode)") from None


def _utf8_strict(text: str, metaspace: bool, what: str, token_id: int) -> bytes:
    if metaspace:
        text = text.replace(_METASPACE, " ")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {_quote(text)} (id {token_id}) is not valid Unicode: it has a "
                         "lone surrogate") from None


def _unique(obj: dict, where: str) -> None:
    for key, _, _ in getattr(obj, "duplicates", ())[:1]:
        raise ValueError(f"duplicate key {_quote(key)} in {where}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """The JSON type of a value, for "must be ..., not a list" (as the server's streaming reader,
    which sees only the type)."""
    if isinstance(value, str):
        return "a string"
    return _describe(value)


def _describe(value: Any) -> str:
    """A small value: a string quoted, anything else by its JSON type."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(text: str) -> str:
    """A piece as a JSON string literal: quotes, backslashes, control characters and lone
    surrogates escaped, so that a message never carries raw control bytes (as the server)."""
    out = ['"']
    for c in text:
        cp = ord(c)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)
