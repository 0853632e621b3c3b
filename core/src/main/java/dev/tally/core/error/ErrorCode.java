package dev.tally.core.error;

/**
 * Tally's stable error codes: what clients switch on ({@code google.rpc.ErrorInfo.reason}), each
 * with the canonical status it travels under. The names match {@code tally.v1.ErrorCode}.
 */
public enum ErrorCode {
  /** The logits tensor is malformed: dtype, shape or byte length. */
  INVALID_TENSOR(Canonical.INVALID_ARGUMENT),
  /** A sampling parameter or processor parameter is out of range or of the wrong type. */
  INVALID_PARAMS(Canonical.INVALID_ARGUMENT),
  /** A request names a processor or selector that no plugin provides. */
  UNKNOWN_PROCESSOR(Canonical.NOT_FOUND),
  /** A row holds NaN or +Infinity. */
  INVALID_LOGITS(Canonical.INVALID_ARGUMENT),
  /** Every token of a row was removed; nothing can be chosen. */
  NO_CANDIDATES(Canonical.FAILED_PRECONDITION),
  /** A session step names a sequence id that is not registered. */
  UNKNOWN_SEQUENCE(Canonical.NOT_FOUND),
  /** A session step adds a sequence id that is already registered. */
  DUPLICATE_SEQUENCE(Canonical.ALREADY_EXISTS),
  /** A configured limit (rows, vocabulary, top_logprobs, sequences) was exceeded. */
  LIMIT_EXCEEDED(Canonical.RESOURCE_EXHAUSTED),
  /** A processor or selector threw while running on a row. */
  PROCESSOR_FAILED(Canonical.INTERNAL),
  /** A bug in Tally. */
  INTERNAL(Canonical.INTERNAL),
  /** The server is shutting down. */
  UNAVAILABLE(Canonical.UNAVAILABLE),
  /**
   * A row was still running when its step's deadline passed (a processor or selector that does
   * not finish): the row fails, the step is answered without it.
   */
  DEADLINE_EXCEEDED(Canonical.DEADLINE_EXCEEDED),
  /**
   * A shared-memory registration or reference is wrong: unknown region, bad name or key, offset
   * or size out of bounds, bytes still in use by another step.
   */
  INVALID_SHARED_MEMORY(Canonical.INVALID_ARGUMENT),
  /** Shared memory cannot be used here: an older JVM, a non-loopback listener, an unopenable object. */
  SHARED_MEMORY_UNAVAILABLE(Canonical.FAILED_PRECONDITION),
  /** A region shrank or vanished under the server while a step read it; the region is dropped. */
  REGION_UNAVAILABLE(Canonical.DATA_LOSS),
  /**
   * The request's bytes do not parse as its message type (truncated, a bad varint or wire type,
   * a length past the end): a client's framing bug, or not a Tally client at all.
   */
  MALFORMED_REQUEST(Canonical.INVALID_ARGUMENT),
  /** A request names a vocabulary that is not registered. */
  UNKNOWN_VOCABULARY(Canonical.NOT_FOUND),
  /** A vocabulary is registered under a name that already holds a different vocabulary. */
  VOCABULARY_EXISTS(Canonical.ALREADY_EXISTS);

  private final Canonical canonical;

  ErrorCode(Canonical canonical) {
    this.canonical = canonical;
  }

  public Canonical canonical() {
    return canonical;
  }
}
