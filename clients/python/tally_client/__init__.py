"""Python client for Tally, the gRPC sampling sidecar for LLM model servers.

    from tally_client import Client

    with Client("unix:/run/tally/tally.sock") as client:
        r = client.sample(logits, temperature=0.7, top_p=0.9, seed=42)   # logits: [rows, vocab]
        r.token_ids                                                       # np.ndarray[int32]

        with client.session() as s:                                       # a decode loop
            s.add(1, prompt_token_ids=prompt, temperature=0.7, seed=1, eos_token_ids=[eos])
            r = s.step([1], logits)

The generated protobuf modules are `tally_client.sampler_pb2` and `tally_client.sampler_pb2_grpc`.
"""

from tally_client._client import Client, History, Session, SessionStepError
from tally_client._errors import TallyError
from tally_client._params import SAMPLING_KEYWORDS, to_params
from tally_client._proto.tally.v1 import sampler_pb2, sampler_pb2_grpc
from tally_client._result import Result, StopMatch
from tally_client._seeds import derive_seed
from tally_client._tokenizer import DecodedVocabulary, decode_tokenizer_json
from tally_client._tensor import to_logits

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DecodedVocabulary",
    "History",
    "Result",
    "SAMPLING_KEYWORDS",
    "Session",
    "SessionStepError",
    "StopMatch",
    "TallyError",
    "decode_tokenizer_json",
    "derive_seed",
    "sampler_pb2",
    "sampler_pb2_grpc",
    "to_logits",
    "to_params",
]
