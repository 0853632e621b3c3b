package dev.tally.core.error;

import java.util.Objects;

/**
 * An error with a stable {@link ErrorCode}, a message for humans and, where one field of the
 * request is to blame, that field's path (e.g. {@code params[0].top_p}).
 */
public final class TallyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final String field;

  public TallyException(ErrorCode code, String message) {
    this(code, null, message, null);
  }

  public TallyException(ErrorCode code, String field, String message) {
    this(code, field, message, null);
  }

  public TallyException(ErrorCode code, String field, String message, Throwable cause) {
    super(Objects.requireNonNull(message, "message"), cause);
    this.code = Objects.requireNonNull(code, "code");
    this.field = field;
  }

  public ErrorCode code() {
    return code;
  }

  /** The offending request field, or {@code null}. */
  public String field() {
    return field;
  }

  /** The same error with its field path prefixed, e.g. {@code top_p} → {@code params[2].top_p}. */
  public TallyException under(String prefix) {
    String path = field == null ? prefix : prefix + "." + field;
    return new TallyException(code, path, getMessage(), getCause());
  }

  public static TallyException invalidParams(String field, String message) {
    return new TallyException(ErrorCode.INVALID_PARAMS, field, message);
  }
}
