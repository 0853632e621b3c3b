"""Tally errors: gRPC failures, failed session steps and failed rows, as Python exceptions."""

from __future__ import annotations

from typing import Optional, Sequence

import grpc

from tally_client._proto.googleapis import error_details_pb2, status_pb2

_CODES = {code.value[0]: code for code in grpc.StatusCode}
_DETAILS_KEY = "grpc-status-details-bin"


class TallyError(Exception):
    """A request Tally refused or could not serve.

    Attributes:
        code: the gRPC status code (`grpc.StatusCode`), e.g. `INVALID_ARGUMENT`.
        reason: Tally's stable error code from `google.rpc.ErrorInfo.reason`, e.g.
            `"INVALID_PARAMS"`, `"UNKNOWN_SEQUENCE"` (see `tally.v1.ErrorCode`); None when the
            failure did not come from Tally (a dead connection, a deadline).
        field: the offending request field from `google.rpc.BadRequest`, e.g.
            `"params[0].top_p"`; None when no single field is to blame.
        field_violations: every `(field, description)` pair of the BadRequest detail.
        message: the server's message.
        metadata: `ErrorInfo.metadata`.
        status: the full `google.rpc.Status`, when there was one.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: Optional[str] = None,
        field_violations: Sequence[tuple[str, str]] = (),
        metadata: Optional[dict] = None,
        status: Optional[status_pb2.Status] = None,
    ):
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = list(field_violations)
        self.field = self.field_violations[0][0] if self.field_violations else None
        self.metadata = dict(metadata or {})
        self.status = status
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [self.code.name]
        if self.reason:
            parts.append(self.reason)
        text = f"[{'/'.join(parts)}] {self.message}"
        if self.field and self.field not in self.message:
            text += f" (field {self.field})"
        return text

    @classmethod
    def from_status(cls, status: status_pb2.Status) -> "TallyError":
        """From a `google.rpc.Status` (a failed session step or row, or unary call details)."""
        reason, metadata, violations = None, {}, []
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason or None, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend((v.field, v.description) for v in bad.field_violations)
        if not violations and "field" in metadata:
            violations.append((metadata["field"], status.message))
        code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
        return cls(code, status.message, reason=reason, field_violations=violations,
                   metadata=metadata, status=status)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "TallyError":
        """From the `grpc.RpcError` a call raised; reads the rich details from the trailers."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        for key, value in trailers or ():
            if key == _DETAILS_KEY:
                status = status_pb2.Status.FromString(value)
                if status.code == code.value[0]:
                    return cls.from_status(status)
        return cls(code or grpc.StatusCode.UNKNOWN, message or "")
