"""`Client` (unary calls) and `Session` (the decode loop's bidirectional stream)."""

from __future__ import annotations

import os
import queue
import threading
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import grpc
import numpy as np

from tally_client._errors import TallyError
from tally_client._params import to_params
from tally_client._proto.tally.v1 import sampler_pb2 as pb
from tally_client._proto.tally.v1 import sampler_pb2_grpc
from tally_client._result import Result
from tally_client._shm import Region, nbytes_of
from tally_client._tensor import InlineRequest
from tally_client._tokenizer import decode_tokenizer_json

_MiB = 1 << 20
_END = object()  # closes a session's request stream (half-close)
_SAMPLE = "/tally.v1.Sampler/Sample"
_SESSION = "/tally.v1.Sampler/Session"


def _serialize(request: Any) -> bytes:
    """A protobuf message or an `InlineRequest`: both serialize themselves."""
    return request.SerializeToString()

PathOrPem = Union[bytes, str, "os.PathLike[str]"]


class SessionStepError(TallyError):
    """A session step Tally refused as a whole (`SessionResponse.error`): a tensor that does not
    match its shape, an unknown or duplicate sequence id, bad parameters in `add`. Nothing of the
    step was applied (not its `add`/`remove`/`append` either) and the session goes on."""


class History(NamedTuple):
    """A row's token history for `Client.sample` (penalties and the seeded draw use it)."""

    prompt_token_ids: Sequence[int] = ()
    output_token_ids: Sequence[int] = ()


def _ids(values: Iterable[Any]) -> list[int]:
    """Token or sequence ids from a list, a numpy array (any integer dtype, uint64 included) or a
    torch tensor, as Python ints."""
    if isinstance(values, np.ndarray):
        values = values.ravel().tolist()
    elif hasattr(values, "tolist") and hasattr(values, "detach"):  # a torch tensor of ids
        values = values.detach().cpu().reshape(-1).tolist()
    return [int(v) for v in values]


def _targets(targets: Optional[Iterable[int]]) -> list[int]:
    """Teacher-forcing targets (-1 draws), or none at all."""
    return [] if targets is None else _ids(targets)


def _history(h: Any) -> pb.TokenHistory:
    if isinstance(h, pb.TokenHistory):
        return h
    if isinstance(h, Mapping):
        return pb.TokenHistory(prompt_token_ids=_ids(h.get("prompt_token_ids", ())),
                               output_token_ids=_ids(h.get("output_token_ids", ())))
    if isinstance(h, History) or (isinstance(h, (tuple, list)) and len(h) == 2
                                  and not isinstance(h[0], (int, np.integer))):
        return pb.TokenHistory(prompt_token_ids=_ids(h[0]), output_token_ids=_ids(h[1]))
    raise TypeError("a history is a History(prompt_token_ids, output_token_ids), a mapping with "
                    f"those keys, a (prompt, output) pair or a tally.v1.TokenHistory, not {h!r}")


def _params(params: Any, sampling: Mapping[str, Any]) -> pb.SamplingParams:
    if params is not None and sampling:
        raise TypeError("pass either params= or sampling keyword arguments, not both")
    if isinstance(params, pb.SamplingParams):
        return params
    if params is not None:
        return to_params(params)
    return to_params(sampling)


def _read(value: Optional[PathOrPem]) -> Optional[bytes]:
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


class Client:
    """A connection to a Tally server.

    Args:
        target: `"unix:/path/to.sock"` (fastest beside the model server) or `"host:port"`.
        tls: use TLS (implied by any of the three certificate arguments).
        root_certificates: PEM bytes, or a path to them, of the CAs to trust (default: the
            system's).
        private_key, certificate_chain: PEM bytes or paths, for mutual TLS.
        server_hostname: the name to check the server's certificate against, if not the target's.
        credentials: your own `grpc.ChannelCredentials` (overrides the TLS arguments).
        options: extra gRPC channel options, `[(key, value), ...]`.
        timeout: default deadline in seconds for unary calls (`sample`, `server_info`, ...).

    Use it as a context manager, or call `close()`. A client is thread-safe; a `Session` is not.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        tls: bool = False,
        root_certificates: Optional[PathOrPem] = None,
        private_key: Optional[PathOrPem] = None,
        certificate_chain: Optional[PathOrPem] = None,
        server_hostname: Optional[str] = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Sequence[tuple[str, Any]] = (),
        timeout: Optional[float] = None,
    ):
        self.target = target
        self.timeout = timeout
        opts = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", 64 * _MiB),
        ]
        if server_hostname:
            opts.append(("grpc.ssl_target_name_override", server_hostname))
        opts.extend(options)
        if credentials is None and (tls or root_certificates or private_key or certificate_chain):
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(root_certificates),
                private_key=_read(private_key),
                certificate_chain=_read(certificate_chain),
            )
        if credentials is not None:
            self.channel = grpc.secure_channel(target, credentials, options=opts)
        else:
            self.channel = grpc.insecure_channel(target, options=opts)
        self.stub = sampler_pb2_grpc.SamplerStub(self.channel)
        # The tensor-carrying methods take `InlineRequest`s too (one copy of the logits).
        self._sample = self.channel.unary_unary(
            _SAMPLE, request_serializer=_serialize,
            response_deserializer=pb.SampleResponse.FromString)
        self._session = self.channel.stream_stream(
            _SESSION, request_serializer=_serialize,
            response_deserializer=pb.SessionResponse.FromString)
        # Shared-memory regions for `sample(shared_memory=True)`, one per call in flight.
        self._free_regions: list[Region] = []
        self._regions_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; open sessions end, and the server frees this client's regions."""
        self.channel.close()
        with self._regions_lock:
            regions, self._free_regions = self._free_regions, []
        for r in regions:
            r.close()

    def wait_ready(self, timeout: float = 10.0) -> "Client":
        """Blocks until the channel is connected (e.g. while the server starts)."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise TallyError(grpc.StatusCode.UNAVAILABLE,
                             f"no Tally server at {self.target} after {timeout} s") from None
        return self

    def _call(self, method: Any, request: Any, timeout: Optional[float]) -> Any:
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as e:
            raise TallyError.from_rpc_error(e) from e

    # -- unary RPCs --------------------------------------------------------------------------

    def sample(
        self,
        logits: Any,
        *,
        histories: Optional[Sequence[Any]] = None,
        params: Any = None,
        targets: Optional[Iterable[int]] = None,
        timeout: Optional[float] = None,
        shared_memory: bool = False,
        **sampling: Any,
    ) -> Result:
        """Samples one token per row of `logits`, statelessly.

        Args:
            logits: [rows, vocab] (or [vocab]) numpy float32/float16 array or torch
                float32/float16/bfloat16 tensor; any device, sent without conversion.
            histories: None, or one per row: `History(prompt_token_ids, output_token_ids)`, a
                `(prompt, output)` pair or a mapping. Penalties read them, and the seeded draw
                is counted by the number of output tokens.
            params: instead of `**sampling`: one mapping (or `tally.v1.SamplingParams`) for all
                rows, or a list of them, one per row.
            **sampling: sampling parameters, OpenAI/vLLM names: `temperature`, `top_p`, `top_k`,
                `min_p`, `typical_p`, `top_n_sigma`, `repetition_penalty`, `presence_penalty`,
                `frequency_penalty`, `penalty_last_n`, `logit_bias`, `allowed_token_ids`,
                `banned_token_ids`, `min_tokens`, `eos_token_ids`, `stop_token_ids`, `seed`,
                `top_logprobs`, `top_logprobs_mode`, `order`, `processors`, `pipeline`,
                `explain`, `vocabulary`, `stop`, `structured_output`, `sample_index` (the i-th
                of n samples under `seed`: it draws with `derive_seed(seed, i)`).
            targets: teacher forcing: None, or one per row, -1 to draw or a token id to score
                instead (`Result.scored`; processed logprob -inf where the chain removed it).
            shared_memory: write `logits` into a shared-memory region of this client (made and
                registered on first use, one per call in flight) instead of sending its bytes;
                needs a server on this host reached over its Unix socket or loopback.

        Raises:
            TallyError: with `.code`, `.reason` (e.g. "INVALID_PARAMS") and `.field`
                (e.g. "params[0].top_p").
        """
        if isinstance(params, (list, tuple)):
            if sampling:
                raise TypeError("pass either params= or sampling keyword arguments, not both")
            plist = [_params(p, {}) for p in params]
        else:
            plist = [_params(params, sampling)]
        region = self._take_region(nbytes_of(logits), timeout) \
            if shared_memory and not isinstance(logits, pb.Logits) else None
        try:
            message = pb.SampleRequest(params=plist, target_token_ids=_targets(targets))
            if histories is not None:
                message.histories.extend(_history(h) for h in histories)
            request: Any = message
            if region is not None:
                message.logits.CopyFrom(region.write(0, logits))
            elif isinstance(logits, pb.Logits):
                message.logits.CopyFrom(logits)
            else:
                request = InlineRequest(logits, message)
            response = self._call(self._sample, request, timeout)
        finally:
            if region is not None:  # answered: the bytes are free again
                with self._regions_lock:
                    self._free_regions.append(region)
        return Result(response.choices)

    def _take_region(self, nbytes: int, timeout: Optional[float]) -> Region:
        with self._regions_lock:
            for i, r in enumerate(self._free_regions):
                if r.byte_size >= nbytes:
                    return self._free_regions.pop(i)
            small = self._free_regions.pop() if self._free_regions else None
        if small is not None:  # replaced by a larger one
            self._call(self.stub.UnregisterSharedMemory,
                       pb.UnregisterSharedMemoryRequest(name=small.name), timeout)
            small.close()
        return Region(nbytes, lambda req: self._call(self.stub.RegisterSharedMemory, req, timeout))

    def shared_memory_status(self, *, timeout: Optional[float] = None) -> pb.SharedMemoryStatus:
        """Whether this connection can use shared memory, its regions, and the server's totals."""
        return self._call(self.stub.GetSharedMemoryStatus, pb.GetSharedMemoryStatusRequest(),
                          timeout)

    def server_info(self, *, timeout: Optional[float] = None) -> pb.ServerInfo:
        """Version, dtypes, limits, listeners and plugins (`tally.v1.ServerInfo`)."""
        return self._call(self.stub.GetServerInfo, pb.GetServerInfoRequest(), timeout)

    def register_vocabulary(
        self,
        name: str,
        *,
        tokenizer_json: Any = None,
        tokens: Optional[Sequence[bytes]] = None,
        special_token_ids: Iterable[int] = (),
        eos_token_ids: Iterable[Union[int, str]] = (),
        timeout: Optional[float] = None,
    ) -> pb.Vocabulary:
        """Registers a model's vocabulary under `name`, for `vocabulary=name` in sampling params.

        Args:
            tokenizer_json: a Hugging Face `tokenizer.json` (a path, its text, or the parsed
                dict): byte-level BPE (GPT-2, Llama 3, Qwen) and SentencePiece (byte fallback,
                `▁`) vocabularies are decoded into each token's bytes; special added tokens are
                special.
            tokens: instead, each token id's bytes, in id order.
            special_token_ids: more special ids (added to the tokenizer's).
            eos_token_ids: the model's end-of-sequence tokens, as ids or (with `tokenizer_json`)
                as token strings such as `"<|eot_id|>"`.

        Returns the server's `tally.v1.Vocabulary` (size, fingerprint). Registering the same
        vocabulary again is a no-op; other tokens under a taken name raise `TallyError`
        (reason `VOCABULARY_EXISTS`).
        """
        if (tokenizer_json is None) == (tokens is None):
            raise TypeError("pass exactly one of tokenizer_json= and tokens=")
        special = set(int(i) for i in special_token_ids)
        if tokenizer_json is not None:
            decoded = decode_tokenizer_json(tokenizer_json)
            token_list = decoded.tokens
            special.update(decoded.special_token_ids)
        else:
            decoded = None
            token_list = [bytes(t) for t in tokens]  # type: ignore[union-attr]
        eos = []
        for e in eos_token_ids:
            if isinstance(e, str):
                found = decoded.id_of(e) if decoded is not None else None
                if found is None:
                    raise ValueError(f"eos token {e!r} is not in the tokenizer"
                                     if decoded is not None else
                                     f"eos token {e!r}: token strings need tokenizer_json=")
                eos.append(found)
            else:
                eos.append(int(e))
        request = pb.RegisterVocabularyRequest(
            name=name, token_lengths=[len(t) for t in token_list],
            special_token_ids=sorted(special), eos_token_ids=eos,
            token_bytes=b"".join(token_list))
        return self._call(self.stub.RegisterVocabulary, request, timeout).vocabulary

    def unregister_vocabulary(self, name: str, *, timeout: Optional[float] = None) -> None:
        """Removes a vocabulary; sequences already using it keep it."""
        self._call(self.stub.UnregisterVocabulary, pb.UnregisterVocabularyRequest(name=name),
                   timeout)

    def list_vocabularies(self, *, timeout: Optional[float] = None) -> list[pb.Vocabulary]:
        """The server's vocabularies, by name (without their tokens)."""
        response = self._call(self.stub.ListVocabularies, pb.ListVocabulariesRequest(), timeout)
        return list(response.vocabularies)

    def list_processors(self, *, timeout: Optional[float] = None) -> list[pb.ProcessorInfo]:
        """Every processor and selector the server can run, with parameter schemas."""
        response = self._call(self.stub.ListProcessors, pb.ListProcessorsRequest(), timeout)
        return list(response.processors)

    # -- sessions ----------------------------------------------------------------------------

    def session(self, *, timeout: Optional[float] = None,
                metadata: Optional[Sequence[tuple[str, str]]] = None,
                shared_memory: bool = False) -> "Session":
        """Opens a `Session` stream for a decode loop with continuous batching.

        `timeout` is a deadline for the whole stream (default: none). With `shared_memory`, each
        step's logits are written once into a region of the session's (registered in-band, grown
        when a step needs more, freed with the stream) and only their place travels.
        """
        return Session(self._session, timeout=timeout, metadata=metadata,
                       shared_memory=shared_memory)


class Session:
    """A model server's decode loop: one bidirectional `Session` stream.

    `add`, `remove` and `append` are buffered and travel with the next `step` (or `flush`), in
    one message, applied in that order before the step's rows are sampled. Tally appends each
    chosen token to its sequence itself, so penalties and seeds follow the sequence.

        with client.session() as s:
            s.add(1, prompt_token_ids=prompt, temperature=0.7, seed=1, eos_token_ids=[eos])
            r = s.step([1], logits)          # logits: [1, vocab]
            ...
            s.remove(1)

    Not thread-safe: drive a session from one thread (open one session per loop).
    """

    def __init__(self, method: grpc.StreamStreamMultiCallable, *,
                 timeout: Optional[float] = None,
                 metadata: Optional[Sequence[tuple[str, str]]] = None,
                 shared_memory: bool = False):
        self._requests: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._call = method(iter(self._requests.get, _END), timeout=timeout, metadata=metadata)
        self._added: list[pb.Sequence] = []
        self._forks: list[pb.Fork] = []
        self._drafts: list[pb.DraftBlock] = []
        self._prompt_scores: list[pb.PromptScore] = []
        self._removed: list[int] = []
        self._appended: list[pb.SequenceTokens] = []
        self._sequences: set[int] = set()
        self._next_step = 0
        self._closed = False
        self._shared_memory = shared_memory
        self._region: Optional[Region] = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.cancel()

    def close(self) -> None:
        """Half-closes the stream and waits for the server to end it. Unsent changes are
        dropped (the server forgets the session's sequences anyway)."""
        if self._closed:
            return
        self._closed = True
        self._requests.put(_END)
        try:
            for _ in self._call:  # no responses are owed; wait for the end of the stream
                pass
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
                raise TallyError.from_rpc_error(e) from e
        finally:
            self._close_region()

    def _close_region(self) -> None:
        if self._region is not None:
            self._region.close()  # the server dropped it with the stream
            self._region = None

    def cancel(self) -> None:
        """Ends the stream at once."""
        if not self._closed:
            self._closed = True
            self._call.cancel()
            self._requests.put(_END)  # frees the thread that feeds the stream
            self._close_region()

    # -- registry ----------------------------------------------------------------------------

    @property
    def sequences(self) -> frozenset[int]:
        """Ids registered on the server (as of the last answered step)."""
        return frozenset(self._sequences)

    def add(
        self,
        seq_id: int,
        *,
        prompt_token_ids: Iterable[int] = (),
        output_token_ids: Iterable[int] = (),
        params: Any = None,
        cumulative_logprob: float = 0.0,
        **sampling: Any,
    ) -> None:
        """Registers a sequence (sent with the next step): its prompt, any output it already
        has (resuming, with the `cumulative_logprob` it had), and its sampling parameters
        (`**sampling`, as in `Client.sample`)."""
        self._added.append(pb.Sequence(
            id=int(seq_id), params=_params(params, sampling),
            prompt_token_ids=_ids(prompt_token_ids), output_token_ids=_ids(output_token_ids),
            cumulative_logprob=float(cumulative_logprob)))

    def fork(self, parent_id: int, child_id: int, *, seed: Optional[int] = None,
             sample_index: Optional[int] = None, append_token_ids: Iterable[int] = ()) -> None:
        """Copies a sequence under a new id (sent with the next step, after `add` and before
        `remove` and `append`): its parameters, tokens, cumulative logprob and every stage's state
        (penalties, min_tokens, plugins, the structured-output constraint). The child draws with
        `seed`, else `derive_seed(parent's seed, sample_index)`, else the parent's seed; then
        `append_token_ids` are appended to it (beam expansion: fork and append)."""
        f = pb.Fork(parent_id=int(parent_id), child_id=int(child_id),
                    append_token_ids=_ids(append_token_ids))
        if seed is not None:
            f.seed = int(seed)
        if sample_index is not None:
            f.sample_index = int(sample_index)
        self._forks.append(f)

    def draft(self, seq_id: int, token_ids: Iterable[int]) -> None:
        """Speculative decoding: k draft tokens for a sequence, verified strictly in the next
        step. That step gives the sequence k + 1 consecutive rows (its id k + 1 times in
        `seq_ids`), row j holding the logits after the first j drafts. `Result.verdicts` says
        which were accepted; the emitted tokens are exactly those decoding without speculation
        would give (docs/decode-modes.md)."""
        self._drafts.append(pb.DraftBlock(sequence_id=int(seq_id), token_ids=_ids(token_ids)))

    def score_prompt(self, seq_id: int, start: int, count: int) -> None:
        """Scores prompt tokens `start + 1` to `start + count` of a sequence in the next step,
        which gives the sequence `count` consecutive rows (row j: the logits after prompt tokens
        0..start+j). Chunk a long prompt over several steps; `Result.score_summaries` sums each
        chunk. The sequence itself is unchanged."""
        self._prompt_scores.append(pb.PromptScore(sequence_id=int(seq_id), start=int(start),
                                                  count=int(count)))

    def remove(self, seq_id: int) -> None:
        """Drops a sequence (sent with the next step)."""
        self._removed.append(int(seq_id))

    def append(self, seq_id: int, token_ids: Iterable[int]) -> None:
        """Appends tokens the model server placed itself (forced, prefilled or speculative) to a
        sequence's history (sent with the next step)."""
        self._appended.append(pb.SequenceTokens(sequence_id=int(seq_id), token_ids=_ids(token_ids)))

    # -- steps -------------------------------------------------------------------------------

    def step(self, seq_ids: Iterable[int], logits: Any,
             targets: Optional[Iterable[int]] = None) -> Result:
        """Samples row i of `logits` for sequence `seq_ids[i]`; returns a `Result` in row order.

        Pending `add`/`fork`/`remove`/`append` calls travel with this step. `logits` is as in
        `Client.sample`; `targets` (teacher forcing), one per row, scores the given token instead
        of drawing (-1 draws) and appends it to the sequence. Raises `SessionStepError` if Tally refused the whole step (nothing
        applied, the session goes on), `TallyError` if the stream itself failed.
        """
        ids = _ids(seq_ids)
        inline = None
        if isinstance(logits, pb.Logits):
            tensor = logits
        elif self._shared_memory:
            # One step in flight at a time: its response frees the slot for the next step.
            tensor = self._shared_region(nbytes_of(logits)).write(0, logits)
        else:
            tensor = inline = InlineRequest(logits)  # its message is built in _send
        if tensor.rows != len(ids):
            raise ValueError(f"{len(ids)} sequence ids for {tensor.rows} rows of logits")
        row_targets = _targets(targets)
        if inline is not None:
            response = self._send(inline, row_sequence_ids=ids, row_target_token_ids=row_targets)
        else:
            response = self._send(row_sequence_ids=ids, logits=tensor,
                                  row_target_token_ids=row_targets)
        return Result(response.choices, ids, response.score_summaries)

    def _shared_region(self, nbytes: int) -> Region:
        """The session's region, replaced by a larger one (in a registry-only step) if needed."""
        if self._region is not None and self._region.byte_size >= nbytes:
            return self._region
        old = self._region
        self._region = None

        def register(request: pb.RegisterSharedMemoryRequest) -> None:
            self._exchange(pb.SessionRequest(
                register_shared_memory=[request],
                unregister_shared_memory=[old.name] if old is not None else []))

        region = Region(nbytes, register)
        if old is not None:
            old.close()
        self._region = region
        return region

    def flush(self) -> None:
        """Sends pending `add`/`fork`/`remove`/`append` calls now, in a step with no rows."""
        if self._added or self._forks or self._removed or self._appended:
            self._send()

    def _send(self, inline: Optional[InlineRequest] = None, **fields: Any) -> pb.SessionResponse:
        """Sends the pending registry changes with `fields` (or with `inline`'s logits)."""
        if self._closed:
            raise TallyError(grpc.StatusCode.FAILED_PRECONDITION, "the session is closed")
        added, forks, removed, appended = self._added, self._forks, self._removed, self._appended
        drafts, scores = self._drafts, self._prompt_scores
        self._added, self._forks, self._removed, self._appended = [], [], [], []
        self._drafts, self._prompt_scores = [], []
        request = pb.SessionRequest(added=added, forks=forks, removed=removed, appended=appended,
                                    drafts=drafts, prompt_scores=scores, **fields)
        if inline is not None:
            inline.message = request
        response = self._exchange(request, inline)
        self._sequences.update(s.id for s in added)
        self._sequences.update(f.child_id for f in forks)
        self._sequences.difference_update(removed)
        return response

    def _exchange(self, request: pb.SessionRequest,
                  inline: Optional[InlineRequest] = None) -> pb.SessionResponse:
        """Numbers one request, sends it (as `inline`, which wraps it, if given) and returns its
        answer."""
        if self._closed:
            raise TallyError(grpc.StatusCode.FAILED_PRECONDITION, "the session is closed")
        step_id = request.step_id = self._next_step
        self._next_step += 1
        self._requests.put(request if inline is None else inline)
        try:
            response = next(self._call)
        except grpc.RpcError as e:
            self._closed = True
            raise TallyError.from_rpc_error(e) from e
        except StopIteration:
            self._closed = True
            raise TallyError(grpc.StatusCode.UNAVAILABLE, "the server ended the session") from None
        if response.step_id != step_id:
            raise TallyError(grpc.StatusCode.INTERNAL,
                             f"answer to step {response.step_id} for step {step_id}")
        if response.HasField("error"):
            raise SessionStepError.from_status(response.error)
        return response
