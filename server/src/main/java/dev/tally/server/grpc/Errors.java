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

  static com.google.rpc.Status toStatus(TallyException e) {
    Status.Code code = Status.Code.valueOf(e.code().canonical().name());
    ErrorInfo.Builder info = ErrorInfo.newBuilder().setReason(e.code().name()).setDomain(DOMAIN);
    if (e.field() != null) {
      info.putMetadata("field", e.field());
    }
    com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
        .setCode(code.value())
        .setMessage(e.getMessage())
        .addDetails(Any.pack(info.build()));
    if (e.field() != null) {
      status.addDetails(Any.pack(BadRequest.newBuilder()
          .addFieldViolations(BadRequest.FieldViolation.newBuilder()
              .setField(e.field())
              .setDescription(e.getMessage()))
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
