from google.protobuf import struct_pb2 as _struct_pb2
from tally_client._proto.googleapis import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DEADLINE_EXCEEDED: ErrorCode
DESCRIPTOR: _descriptor.FileDescriptor
DTYPE_BFLOAT16: DType
DTYPE_FLOAT16: DType
DTYPE_FLOAT32: DType
DTYPE_UNSPECIFIED: DType
DUPLICATE_SEQUENCE: ErrorCode
ERROR_CODE_UNSPECIFIED: ErrorCode
FINISH_REASON_EOS_TOKEN: FinishReason
FINISH_REASON_NONE: FinishReason
FINISH_REASON_STOP_STRING: FinishReason
FINISH_REASON_STOP_TOKEN: FinishReason
FINISH_REASON_UNSPECIFIED: FinishReason
INTERNAL: ErrorCode
INVALID_LOGITS: ErrorCode
INVALID_PARAMS: ErrorCode
INVALID_SHARED_MEMORY: ErrorCode
INVALID_TENSOR: ErrorCode
LIMIT_EXCEEDED: ErrorCode
LOGPROBS_MODE_PROCESSED: LogprobsMode
LOGPROBS_MODE_RAW: LogprobsMode
MALFORMED_REQUEST: ErrorCode
NO_CANDIDATES: ErrorCode
ORDER_TEMPERATURE_FIRST: Order
ORDER_TEMPERATURE_LAST: Order
PROCESSOR: ProcessorKind
PROCESSOR_FAILED: ErrorCode
PROCESSOR_KIND_UNSPECIFIED: ProcessorKind
REGION_UNAVAILABLE: ErrorCode
SELECTOR: ProcessorKind
SHARED_MEMORY_UNAVAILABLE: ErrorCode
UNAVAILABLE: ErrorCode
UNKNOWN_PROCESSOR: ErrorCode
UNKNOWN_SEQUENCE: ErrorCode
UNKNOWN_VOCABULARY: ErrorCode
VERDICT_ACCEPTED: Verdict
VERDICT_BONUS: Verdict
VERDICT_CORRECTED: Verdict
VERDICT_DISCARDED: Verdict
VERDICT_SCORED: Verdict
VERDICT_UNSPECIFIED: Verdict
VOCABULARY_EXISTS: ErrorCode

class Choice(_message.Message):
    __slots__ = ["choices"]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, choices: _Optional[_Iterable[str]] = ...) -> None: ...

class ConnectionLimits(_message.Message):
    __slots__ = ["keepalive_time_millis", "keepalive_timeout_millis", "max_concurrent_streams", "max_connection_idle_millis", "max_header_list_bytes", "max_rst_frames_per_window", "permit_keepalive_time_millis", "permit_keepalive_without_calls", "rst_window_millis"]
    KEEPALIVE_TIMEOUT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_TIME_MILLIS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONNECTION_IDLE_MILLIS_FIELD_NUMBER: _ClassVar[int]
    MAX_HEADER_LIST_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_RST_FRAMES_PER_WINDOW_FIELD_NUMBER: _ClassVar[int]
    PERMIT_KEEPALIVE_TIME_MILLIS_FIELD_NUMBER: _ClassVar[int]
    PERMIT_KEEPALIVE_WITHOUT_CALLS_FIELD_NUMBER: _ClassVar[int]
    RST_WINDOW_MILLIS_FIELD_NUMBER: _ClassVar[int]
    keepalive_time_millis: int
    keepalive_timeout_millis: int
    max_concurrent_streams: int
    max_connection_idle_millis: int
    max_header_list_bytes: int
    max_rst_frames_per_window: int
    permit_keepalive_time_millis: int
    permit_keepalive_without_calls: bool
    rst_window_millis: int
    def __init__(self, max_concurrent_streams: _Optional[int] = ..., max_rst_frames_per_window: _Optional[int] = ..., rst_window_millis: _Optional[int] = ..., max_header_list_bytes: _Optional[int] = ..., permit_keepalive_time_millis: _Optional[int] = ..., permit_keepalive_without_calls: bool = ..., max_connection_idle_millis: _Optional[int] = ..., keepalive_time_millis: _Optional[int] = ..., keepalive_timeout_millis: _Optional[int] = ...) -> None: ...

class DraftBlock(_message.Message):
    __slots__ = ["sequence_id", "token_ids"]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    sequence_id: int
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sequence_id: _Optional[int] = ..., token_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ["stages", "top_logit_gap"]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGIT_GAP_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.RepeatedCompositeFieldContainer[StageTrace]
    top_logit_gap: float
    def __init__(self, stages: _Optional[_Iterable[_Union[StageTrace, _Mapping]]] = ..., top_logit_gap: _Optional[float] = ...) -> None: ...

class Fork(_message.Message):
    __slots__ = ["append_token_ids", "child_id", "parent_id", "sample_index", "seed"]
    APPEND_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    CHILD_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    append_token_ids: _containers.RepeatedScalarFieldContainer[int]
    child_id: int
    parent_id: int
    sample_index: int
    seed: int
    def __init__(self, parent_id: _Optional[int] = ..., child_id: _Optional[int] = ..., seed: _Optional[int] = ..., sample_index: _Optional[int] = ..., append_token_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetSharedMemoryStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ["max_draft_tokens", "max_fork_children_per_step", "max_message_bytes", "max_rows", "max_sequences_per_session", "max_sessions", "max_shared_memory_bytes", "max_shared_memory_regions", "max_step_elements", "max_top_logprobs", "max_vocab_size", "max_vocabularies", "max_vocabulary_bytes", "step_deadline_millis"]
    MAX_DRAFT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_FORK_CHILDREN_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQUENCES_PER_SESSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SHARED_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SHARED_MEMORY_REGIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOCABULARIES_FIELD_NUMBER: _ClassVar[int]
    MAX_VOCABULARY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEP_DEADLINE_MILLIS_FIELD_NUMBER: _ClassVar[int]
    max_draft_tokens: int
    max_fork_children_per_step: int
    max_message_bytes: int
    max_rows: int
    max_sequences_per_session: int
    max_sessions: int
    max_shared_memory_bytes: int
    max_shared_memory_regions: int
    max_step_elements: int
    max_top_logprobs: int
    max_vocab_size: int
    max_vocabularies: int
    max_vocabulary_bytes: int
    step_deadline_millis: int
    def __init__(self, max_rows: _Optional[int] = ..., max_vocab_size: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_top_logprobs: _Optional[int] = ..., max_sequences_per_session: _Optional[int] = ..., max_sessions: _Optional[int] = ..., step_deadline_millis: _Optional[int] = ..., max_shared_memory_regions: _Optional[int] = ..., max_shared_memory_bytes: _Optional[int] = ..., max_step_elements: _Optional[int] = ..., max_vocabularies: _Optional[int] = ..., max_vocabulary_bytes: _Optional[int] = ..., max_fork_children_per_step: _Optional[int] = ..., max_draft_tokens: _Optional[int] = ...) -> None: ...

class ListProcessorsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListProcessorsResponse(_message.Message):
    __slots__ = ["processors"]
    PROCESSORS_FIELD_NUMBER: _ClassVar[int]
    processors: _containers.RepeatedCompositeFieldContainer[ProcessorInfo]
    def __init__(self, processors: _Optional[_Iterable[_Union[ProcessorInfo, _Mapping]]] = ...) -> None: ...

class ListVocabulariesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListVocabulariesResponse(_message.Message):
    __slots__ = ["vocabularies"]
    VOCABULARIES_FIELD_NUMBER: _ClassVar[int]
    vocabularies: _containers.RepeatedCompositeFieldContainer[Vocabulary]
    def __init__(self, vocabularies: _Optional[_Iterable[_Union[Vocabulary, _Mapping]]] = ...) -> None: ...

class Logits(_message.Message):
    __slots__ = ["data", "dtype", "rows", "shared_memory", "vocab_size"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    dtype: DType
    rows: int
    shared_memory: SharedMemoryRef
    vocab_size: int
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., rows: _Optional[int] = ..., vocab_size: _Optional[int] = ..., shared_memory: _Optional[_Union[SharedMemoryRef, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class ParamInfo(_message.Message):
    __slots__ = ["allowed_values", "default_value", "description", "maximum", "minimum", "name", "required", "type"]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    allowed_values: _containers.RepeatedScalarFieldContainer[str]
    default_value: _struct_pb2.Value
    description: str
    maximum: float
    minimum: float
    name: str
    required: bool
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., default_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., required: bool = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., allowed_values: _Optional[_Iterable[str]] = ...) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ["name", "processors", "version"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROCESSORS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    processors: _containers.RepeatedScalarFieldContainer[str]
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., processors: _Optional[_Iterable[str]] = ...) -> None: ...

class ProcessorInfo(_message.Message):
    __slots__ = ["description", "kind", "name", "params", "plugin", "version"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    description: str
    kind: ProcessorKind
    name: str
    params: _containers.RepeatedCompositeFieldContainer[ParamInfo]
    plugin: str
    version: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[ProcessorKind, str]] = ..., description: _Optional[str] = ..., plugin: _Optional[str] = ..., version: _Optional[str] = ..., params: _Optional[_Iterable[_Union[ParamInfo, _Mapping]]] = ...) -> None: ...

class ProcessorSpec(_message.Message):
    __slots__ = ["name", "params"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    params: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PromptScore(_message.Message):
    __slots__ = ["count", "sequence_id", "start"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    count: int
    sequence_id: int
    start: int
    def __init__(self, sequence_id: _Optional[int] = ..., start: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class RegisterSharedMemoryRequest(_message.Message):
    __slots__ = ["byte_size", "key", "name"]
    BYTE_SIZE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    byte_size: int
    key: str
    name: str
    def __init__(self, name: _Optional[str] = ..., key: _Optional[str] = ..., byte_size: _Optional[int] = ...) -> None: ...

class RegisterSharedMemoryResponse(_message.Message):
    __slots__ = ["region"]
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: SharedMemoryRegion
    def __init__(self, region: _Optional[_Union[SharedMemoryRegion, _Mapping]] = ...) -> None: ...

class RegisterVocabularyRequest(_message.Message):
    __slots__ = ["eos_token_ids", "name", "special_token_ids", "token_bytes", "token_lengths"]
    EOS_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    eos_token_ids: _containers.RepeatedScalarFieldContainer[int]
    name: str
    special_token_ids: _containers.RepeatedScalarFieldContainer[int]
    token_bytes: bytes
    token_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., token_lengths: _Optional[_Iterable[int]] = ..., special_token_ids: _Optional[_Iterable[int]] = ..., eos_token_ids: _Optional[_Iterable[int]] = ..., token_bytes: _Optional[bytes] = ...) -> None: ...

class RegisterVocabularyResponse(_message.Message):
    __slots__ = ["created", "vocabulary"]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    created: bool
    vocabulary: Vocabulary
    def __init__(self, vocabulary: _Optional[_Union[Vocabulary, _Mapping]] = ..., created: bool = ...) -> None: ...

class SampleRequest(_message.Message):
    __slots__ = ["histories", "logits", "params", "target_token_ids"]
    HISTORIES_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TARGET_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    histories: _containers.RepeatedCompositeFieldContainer[TokenHistory]
    logits: Logits
    params: _containers.RepeatedCompositeFieldContainer[SamplingParams]
    target_token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, params: _Optional[_Iterable[_Union[SamplingParams, _Mapping]]] = ..., histories: _Optional[_Iterable[_Union[TokenHistory, _Mapping]]] = ..., target_token_ids: _Optional[_Iterable[int]] = ..., logits: _Optional[_Union[Logits, _Mapping]] = ...) -> None: ...

class SampleResponse(_message.Message):
    __slots__ = ["choices"]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[TokenChoice]
    def __init__(self, choices: _Optional[_Iterable[_Union[TokenChoice, _Mapping]]] = ...) -> None: ...

class SamplingParams(_message.Message):
    __slots__ = ["allowed_token_ids", "banned_token_ids", "eos_token_ids", "explain", "frequency_penalty", "label_token_ids", "logit_bias", "min_p", "min_tokens", "order", "penalty_last_n", "pipeline", "presence_penalty", "processors", "repetition_penalty", "sample_index", "seed", "stop_strings", "stop_token_ids", "structured_output", "temperature", "top_k", "top_logprobs", "top_logprobs_mode", "top_n_sigma", "top_p", "typical_p", "vocabulary"]
    class LogitBiasEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: float
        def __init__(self, key: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...
    ALLOWED_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    BANNED_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    EOS_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_PENALTY_FIELD_NUMBER: _ClassVar[int]
    LABEL_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    LOGIT_BIAS_FIELD_NUMBER: _ClassVar[int]
    MIN_P_FIELD_NUMBER: _ClassVar[int]
    MIN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PENALTY_LAST_N_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    PROCESSORS_FIELD_NUMBER: _ClassVar[int]
    REPETITION_PENALTY_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_STRINGS_FIELD_NUMBER: _ClassVar[int]
    STOP_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_MODE_FIELD_NUMBER: _ClassVar[int]
    TOP_N_SIGMA_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_P_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    allowed_token_ids: _containers.RepeatedScalarFieldContainer[int]
    banned_token_ids: _containers.RepeatedScalarFieldContainer[int]
    eos_token_ids: _containers.RepeatedScalarFieldContainer[int]
    explain: bool
    frequency_penalty: float
    label_token_ids: _containers.RepeatedScalarFieldContainer[int]
    logit_bias: _containers.ScalarMap[int, float]
    min_p: float
    min_tokens: int
    order: Order
    penalty_last_n: int
    pipeline: _containers.RepeatedCompositeFieldContainer[ProcessorSpec]
    presence_penalty: float
    processors: _containers.RepeatedCompositeFieldContainer[ProcessorSpec]
    repetition_penalty: float
    sample_index: int
    seed: int
    stop_strings: _containers.RepeatedScalarFieldContainer[str]
    stop_token_ids: _containers.RepeatedScalarFieldContainer[int]
    structured_output: StructuredOutput
    temperature: float
    top_k: int
    top_logprobs: int
    top_logprobs_mode: LogprobsMode
    top_n_sigma: float
    top_p: float
    typical_p: float
    vocabulary: str
    def __init__(self, temperature: _Optional[float] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., min_p: _Optional[float] = ..., typical_p: _Optional[float] = ..., top_n_sigma: _Optional[float] = ..., repetition_penalty: _Optional[float] = ..., presence_penalty: _Optional[float] = ..., frequency_penalty: _Optional[float] = ..., penalty_last_n: _Optional[int] = ..., logit_bias: _Optional[_Mapping[int, float]] = ..., allowed_token_ids: _Optional[_Iterable[int]] = ..., banned_token_ids: _Optional[_Iterable[int]] = ..., min_tokens: _Optional[int] = ..., eos_token_ids: _Optional[_Iterable[int]] = ..., stop_token_ids: _Optional[_Iterable[int]] = ..., seed: _Optional[int] = ..., top_logprobs: _Optional[int] = ..., top_logprobs_mode: _Optional[_Union[LogprobsMode, str]] = ..., order: _Optional[_Union[Order, str]] = ..., processors: _Optional[_Iterable[_Union[ProcessorSpec, _Mapping]]] = ..., pipeline: _Optional[_Iterable[_Union[ProcessorSpec, _Mapping]]] = ..., explain: bool = ..., label_token_ids: _Optional[_Iterable[int]] = ..., vocabulary: _Optional[str] = ..., stop_strings: _Optional[_Iterable[str]] = ..., structured_output: _Optional[_Union[StructuredOutput, _Mapping]] = ..., sample_index: _Optional[int] = ...) -> None: ...

class ScoreSummary(_message.Message):
    __slots__ = ["all_greedy", "count", "sequence_id", "sum_logprob"]
    ALL_GREEDY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    SUM_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    all_greedy: bool
    count: int
    sequence_id: int
    sum_logprob: float
    def __init__(self, sequence_id: _Optional[int] = ..., sum_logprob: _Optional[float] = ..., all_greedy: bool = ..., count: _Optional[int] = ...) -> None: ...

class Sequence(_message.Message):
    __slots__ = ["cumulative_logprob", "id", "output_token_ids", "params", "prompt_token_ids"]
    CUMULATIVE_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    cumulative_logprob: float
    id: int
    output_token_ids: _containers.RepeatedScalarFieldContainer[int]
    params: SamplingParams
    prompt_token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., params: _Optional[_Union[SamplingParams, _Mapping]] = ..., prompt_token_ids: _Optional[_Iterable[int]] = ..., output_token_ids: _Optional[_Iterable[int]] = ..., cumulative_logprob: _Optional[float] = ...) -> None: ...

class SequenceTokens(_message.Message):
    __slots__ = ["sequence_id", "token_ids"]
    SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    sequence_id: int
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sequence_id: _Optional[int] = ..., token_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ["active_sessions", "connection_limits", "dtypes", "features", "limits", "plugins", "shared_memory", "spi_version", "transports", "version"]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_LIMITS_FIELD_NUMBER: _ClassVar[int]
    DTYPES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    SPI_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    active_sessions: int
    connection_limits: ConnectionLimits
    dtypes: _containers.RepeatedScalarFieldContainer[DType]
    features: _containers.RepeatedScalarFieldContainer[str]
    limits: Limits
    plugins: _containers.RepeatedCompositeFieldContainer[PluginInfo]
    shared_memory: SharedMemoryStatus
    spi_version: str
    transports: _containers.RepeatedScalarFieldContainer[str]
    version: str
    def __init__(self, version: _Optional[str] = ..., dtypes: _Optional[_Iterable[_Union[DType, str]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., transports: _Optional[_Iterable[str]] = ..., plugins: _Optional[_Iterable[_Union[PluginInfo, _Mapping]]] = ..., spi_version: _Optional[str] = ..., active_sessions: _Optional[int] = ..., shared_memory: _Optional[_Union[SharedMemoryStatus, _Mapping]] = ..., connection_limits: _Optional[_Union[ConnectionLimits, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ["added", "appended", "drafts", "forks", "logits", "prompt_scores", "register_shared_memory", "removed", "row_sequence_ids", "row_target_token_ids", "step_id", "unregister_shared_memory"]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    APPENDED_FIELD_NUMBER: _ClassVar[int]
    DRAFTS_FIELD_NUMBER: _ClassVar[int]
    FORKS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SCORES_FIELD_NUMBER: _ClassVar[int]
    REGISTER_SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    ROW_SEQUENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    ROW_TARGET_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    UNREGISTER_SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Sequence]
    appended: _containers.RepeatedCompositeFieldContainer[SequenceTokens]
    drafts: _containers.RepeatedCompositeFieldContainer[DraftBlock]
    forks: _containers.RepeatedCompositeFieldContainer[Fork]
    logits: Logits
    prompt_scores: _containers.RepeatedCompositeFieldContainer[PromptScore]
    register_shared_memory: _containers.RepeatedCompositeFieldContainer[RegisterSharedMemoryRequest]
    removed: _containers.RepeatedScalarFieldContainer[int]
    row_sequence_ids: _containers.RepeatedScalarFieldContainer[int]
    row_target_token_ids: _containers.RepeatedScalarFieldContainer[int]
    step_id: int
    unregister_shared_memory: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, step_id: _Optional[int] = ..., added: _Optional[_Iterable[_Union[Sequence, _Mapping]]] = ..., removed: _Optional[_Iterable[int]] = ..., appended: _Optional[_Iterable[_Union[SequenceTokens, _Mapping]]] = ..., row_sequence_ids: _Optional[_Iterable[int]] = ..., register_shared_memory: _Optional[_Iterable[_Union[RegisterSharedMemoryRequest, _Mapping]]] = ..., unregister_shared_memory: _Optional[_Iterable[str]] = ..., forks: _Optional[_Iterable[_Union[Fork, _Mapping]]] = ..., row_target_token_ids: _Optional[_Iterable[int]] = ..., drafts: _Optional[_Iterable[_Union[DraftBlock, _Mapping]]] = ..., prompt_scores: _Optional[_Iterable[_Union[PromptScore, _Mapping]]] = ..., logits: _Optional[_Union[Logits, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ["choices", "error", "score_summaries", "step_id"]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SCORE_SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[TokenChoice]
    error: _status_pb2.Status
    score_summaries: _containers.RepeatedCompositeFieldContainer[ScoreSummary]
    step_id: int
    def __init__(self, step_id: _Optional[int] = ..., choices: _Optional[_Iterable[_Union[TokenChoice, _Mapping]]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., score_summaries: _Optional[_Iterable[_Union[ScoreSummary, _Mapping]]] = ...) -> None: ...

class SharedMemoryRef(_message.Message):
    __slots__ = ["byte_size", "offset", "region"]
    BYTE_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    byte_size: int
    offset: int
    region: str
    def __init__(self, region: _Optional[str] = ..., offset: _Optional[int] = ..., byte_size: _Optional[int] = ...) -> None: ...

class SharedMemoryRegion(_message.Message):
    __slots__ = ["byte_size", "key", "name"]
    BYTE_SIZE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    byte_size: int
    key: str
    name: str
    def __init__(self, name: _Optional[str] = ..., key: _Optional[str] = ..., byte_size: _Optional[int] = ...) -> None: ...

class SharedMemoryStatus(_message.Message):
    __slots__ = ["regions", "server_bytes_mapped", "server_regions", "supported", "unsupported_reason"]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    SERVER_BYTES_MAPPED_FIELD_NUMBER: _ClassVar[int]
    SERVER_REGIONS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    UNSUPPORTED_REASON_FIELD_NUMBER: _ClassVar[int]
    regions: _containers.RepeatedCompositeFieldContainer[SharedMemoryRegion]
    server_bytes_mapped: int
    server_regions: int
    supported: bool
    unsupported_reason: str
    def __init__(self, supported: bool = ..., unsupported_reason: _Optional[str] = ..., regions: _Optional[_Iterable[_Union[SharedMemoryRegion, _Mapping]]] = ..., server_regions: _Optional[int] = ..., server_bytes_mapped: _Optional[int] = ...) -> None: ...

class StageTrace(_message.Message):
    __slots__ = ["candidates", "chosen_probability", "entropy", "name", "top_logit_gap"]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    ENTROPY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGIT_GAP_FIELD_NUMBER: _ClassVar[int]
    candidates: int
    chosen_probability: float
    entropy: float
    name: str
    top_logit_gap: float
    def __init__(self, name: _Optional[str] = ..., candidates: _Optional[int] = ..., entropy: _Optional[float] = ..., chosen_probability: _Optional[float] = ..., top_logit_gap: _Optional[float] = ...) -> None: ...

class StructuredOutput(_message.Message):
    __slots__ = ["choice", "json_schema", "regex"]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    choice: Choice
    json_schema: str
    regex: str
    def __init__(self, regex: _Optional[str] = ..., choice: _Optional[_Union[Choice, _Mapping]] = ..., json_schema: _Optional[str] = ...) -> None: ...

class TokenChoice(_message.Message):
    __slots__ = ["acceptance_probability", "cumulative_logprob", "error", "explanation", "finish_reason", "is_greedy", "label_logprobs", "logprob", "processed_logprob", "rank", "seed", "stop_string", "stop_string_trailing_bytes", "token_id", "top_logprobs", "verdict"]
    ACCEPTANCE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    IS_GREEDY_FIELD_NUMBER: _ClassVar[int]
    LABEL_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_STRING_FIELD_NUMBER: _ClassVar[int]
    STOP_STRING_TRAILING_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    acceptance_probability: float
    cumulative_logprob: float
    error: _status_pb2.Status
    explanation: Explanation
    finish_reason: FinishReason
    is_greedy: bool
    label_logprobs: _containers.RepeatedCompositeFieldContainer[TokenLogprob]
    logprob: float
    processed_logprob: float
    rank: int
    seed: int
    stop_string: str
    stop_string_trailing_bytes: int
    token_id: int
    top_logprobs: _containers.RepeatedCompositeFieldContainer[TokenLogprob]
    verdict: Verdict
    def __init__(self, token_id: _Optional[int] = ..., logprob: _Optional[float] = ..., processed_logprob: _Optional[float] = ..., rank: _Optional[int] = ..., top_logprobs: _Optional[_Iterable[_Union[TokenLogprob, _Mapping]]] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., seed: _Optional[int] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., label_logprobs: _Optional[_Iterable[_Union[TokenLogprob, _Mapping]]] = ..., stop_string: _Optional[str] = ..., stop_string_trailing_bytes: _Optional[int] = ..., cumulative_logprob: _Optional[float] = ..., is_greedy: bool = ..., verdict: _Optional[_Union[Verdict, str]] = ..., acceptance_probability: _Optional[float] = ...) -> None: ...

class TokenHistory(_message.Message):
    __slots__ = ["output_token_ids", "prompt_token_ids"]
    OUTPUT_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    output_token_ids: _containers.RepeatedScalarFieldContainer[int]
    prompt_token_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, prompt_token_ids: _Optional[_Iterable[int]] = ..., output_token_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class TokenLogprob(_message.Message):
    __slots__ = ["logprob", "token_id"]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    logprob: float
    token_id: int
    def __init__(self, token_id: _Optional[int] = ..., logprob: _Optional[float] = ...) -> None: ...

class UnregisterSharedMemoryRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnregisterSharedMemoryResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UnregisterVocabularyRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnregisterVocabularyResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Vocabulary(_message.Message):
    __slots__ = ["eos_token_ids", "fingerprint", "memory_bytes", "name", "size", "special_token_ids", "token_bytes"]
    EOS_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BYTES_FIELD_NUMBER: _ClassVar[int]
    eos_token_ids: _containers.RepeatedScalarFieldContainer[int]
    fingerprint: str
    memory_bytes: int
    name: str
    size: int
    special_token_ids: _containers.RepeatedScalarFieldContainer[int]
    token_bytes: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., special_token_ids: _Optional[_Iterable[int]] = ..., eos_token_ids: _Optional[_Iterable[int]] = ..., fingerprint: _Optional[str] = ..., token_bytes: _Optional[int] = ..., memory_bytes: _Optional[int] = ...) -> None: ...

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LogprobsMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Order(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ProcessorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
