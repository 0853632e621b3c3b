package dev.tally.server.grpc;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * Tally errors as gRPC sees them: the canonical code, the message, an {@code ErrorInfo} whose
 * reason is the stable Tally code, and a {@code BadRequest} field violation when a field is to
 * blame.
 */
final class Errors {
  /** {@code ErrorInfo.domain} of every Tally error. */
  static final String DOMAIN = "tally.dev";

  private Errors() {}

  /**
   * The most characters of a message sent back. Messages may quote the request (an unknown
   * processor name, a string param): a 10,000-character name made the unary error's trailers
   * exceed the client's 8 KiB header-list limit, so the client saw {@code INTERNAL: http2
   * exception} instead of {@code NOT_FOUND}; in a session, a 1 MiB name was echoed back in full.
   */
  static final int MAX_MESSAGE_CHARS = 2048;

  static String abbreviate(String message) {
    if (message.length() <= MAX_MESSAGE_CHARS) {
      return message;
    }
    return message.substring(0, MAX_MESSAGE_CHARS) + "... (" + message.length()
        + " characters, truncated)";
  }

  static com.google.rpc.Status toStatus(TallyException e) {
    Status.Code code = Status.Code.valueOf(e.code().canonical().name());
    String message = abbreviate(e.getMessage());
    ErrorInfo.Builder info = ErrorInfo.newBuilder().setReason(e.code().name()).setDomain(DOMAIN);
    if (e.field() != null) {
      info.putMetadata("field", e.field());
    }
    com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
        .setCode(code.value())
        .setMessage(message)
        .addDetails(Any.pack(info.build()));
    if (e.field() != null) {
      status.addDetails(Any.pack(BadRequest.newBuilder()
          .addFieldViolations(BadRequest.FieldViolation.newBuilder()
              .setField(e.field())
              .setDescription(message))
          .build()));
    }
    return status.build();
  }

  static StatusRuntimeException toException(TallyException e) {
    return StatusProto.toStatusRuntimeException(toStatus(e));
  }

  /** An unexpected failure: logged by the caller, reported without internals. */
  static TallyException internal(Throwable t) {
    return new TallyException(ErrorCode.INTERNAL, null, "internal error: " + t, t);
  }
}
