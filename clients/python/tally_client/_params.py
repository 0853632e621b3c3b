"""Sampling keyword arguments (OpenAI / vLLM names) to `tally.v1.SamplingParams`."""

from __future__ import annotations

import json
import difflib
from typing import Any, Iterable, Mapping

from google.protobuf import struct_pb2

from tally_client._proto.tally.v1 import sampler_pb2 as pb

# Optional scalars: None (or absent) leaves the field unset, so the server's default applies.
_FLOATS = (
    "temperature", "top_p", "min_p", "typical_p", "top_n_sigma",
    "repetition_penalty", "presence_penalty", "frequency_penalty",
)
_INTS = ("top_k", "penalty_last_n", "min_tokens", "top_logprobs", "seed", "sample_index")
_ID_LISTS = ("allowed_token_ids", "banned_token_ids", "eos_token_ids", "stop_token_ids")
_OTHERS = ("logit_bias", "top_logprobs_mode", "order", "processors", "pipeline", "explain",
           "vocabulary", "stop", "structured_output")

SAMPLING_KEYWORDS = frozenset(_FLOATS + _INTS + _ID_LISTS + _OTHERS)

_MODES = {"raw": pb.LOGPROBS_MODE_RAW, "processed": pb.LOGPROBS_MODE_PROCESSED}
_ORDERS = {"temperature_first": pb.ORDER_TEMPERATURE_FIRST, "temperature_last": pb.ORDER_TEMPERATURE_LAST}


def _enum(value: Any, names: Mapping[str, int], what: str) -> int:
    if isinstance(value, str):
        try:
            return names[value.lower()]
        except KeyError:
            raise ValueError(f"{what} must be one of {sorted(names)}, not {value!r}") from None
    return int(value)


def _processors(specs: Iterable[Any]) -> list[pb.ProcessorSpec]:
    out = []
    for spec in specs:
        if isinstance(spec, pb.ProcessorSpec):
            out.append(spec)
            continue
        if isinstance(spec, str):
            name, params = spec, {}
        elif isinstance(spec, Mapping):
            name, params = spec["name"], spec.get("params") or {}
        else:
            name, params = spec
        struct = struct_pb2.Struct()
        struct.update(dict(params))
        out.append(pb.ProcessorSpec(name=name, params=struct))
    return out


def check_keywords(sampling: Mapping[str, Any]) -> None:
    unknown = [k for k in sampling if k not in SAMPLING_KEYWORDS]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, SAMPLING_KEYWORDS, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"unknown sampling parameter {', '.join(hints)}; "
                        f"known: {', '.join(sorted(SAMPLING_KEYWORDS))}")


def to_params(sampling: Mapping[str, Any]) -> pb.SamplingParams:
    """Builds `SamplingParams` from keyword arguments named as in OpenAI / vLLM.

    `None` means unset (the server default). `top_k=-1` means off, as in vLLM. `logit_bias` maps
    token ids (int, or str as in OpenAI's JSON) to additive biases. `top_logprobs_mode` is "raw" or
    "processed", `order` "temperature_first" or "temperature_last". `processors` and `pipeline`
    take names, `(name, params)` pairs or `{"name": ..., "params": {...}}` mappings. `vocabulary`
    names a registered vocabulary (`Client.register_vocabulary`); `stop` is a stop string or a
    list of them (vLLM's name), which need it. `structured_output` is `{"regex": pattern}`,
    `{"choice": [strings]}` or `{"json_schema": schema}` (a JSON string, or a dict to encode):
    the whole output must match (it needs `vocabulary` too).
    """
    check_keywords(sampling)
    p = pb.SamplingParams()
    for name in _FLOATS:
        v = sampling.get(name)
        if v is not None:
            setattr(p, name, float(v))
    for name in _INTS:
        v = sampling.get(name)
        if v is None or (name == "top_k" and v == -1):
            continue
        setattr(p, name, int(v))
    for name in _ID_LISTS:
        v = sampling.get(name)
        if v is not None:
            getattr(p, name).extend(int(t) for t in v)
    bias = sampling.get("logit_bias")
    if bias:
        for token, b in dict(bias).items():
            p.logit_bias[int(token)] = float(b)
    if sampling.get("top_logprobs_mode") is not None:
        p.top_logprobs_mode = _enum(sampling["top_logprobs_mode"], _MODES, "top_logprobs_mode")
    if sampling.get("order") is not None:
        p.order = _enum(sampling["order"], _ORDERS, "order")
    if sampling.get("processors"):
        p.processors.extend(_processors(sampling["processors"]))
    if sampling.get("pipeline"):
        p.pipeline.extend(_processors(sampling["pipeline"]))
    if sampling.get("explain"):
        p.explain = True
    if sampling.get("vocabulary"):
        p.vocabulary = str(sampling["vocabulary"])
    structured = sampling.get("structured_output")
    if structured:
        kinds = dict(structured)
        if len(kinds) != 1 or not set(kinds) <= {"regex", "choice", "json_schema"}:
            raise ValueError('structured_output takes one of {"regex": pattern},'
                             ' {"choice": [strings]} and {"json_schema": schema},'
                             f' not {structured!r}')
        if "regex" in kinds:
            p.structured_output.regex = str(kinds["regex"])
        elif "json_schema" in kinds:
            schema = kinds["json_schema"]
            p.structured_output.json_schema = (schema if isinstance(schema, str)
                                               else json.dumps(schema))
        else:
            p.structured_output.choice.choices.extend(str(c) for c in kinds["choice"])
    stop = sampling.get("stop")
    if stop:
        p.stop_strings.extend([stop] if isinstance(stop, str) else [str(s) for s in stop])
    return p
