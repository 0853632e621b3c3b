"""Logits tensors to `tally.v1.Logits`: one bulk byte copy, no per-element Python work."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from tally_client._proto.tally.v1 import sampler_pb2 as pb

_NUMPY_DTYPES = {
    np.dtype(np.float32): pb.DTYPE_FLOAT32,
    np.dtype(np.float16): pb.DTYPE_FLOAT16,
}
_LITTLE = sys.byteorder == "little"


def _is_torch_tensor(x: Any) -> bool:
    # No `import torch` here: the client must work without PyTorch installed.
    t = type(x)
    return t.__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "dtype")


def _torch_to_numpy(t: Any) -> tuple[np.ndarray, int]:
    import torch  # present, since we were handed a tensor

    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the 16-bit patterns, which is what travels.
        return t.contiguous().view(torch.int16).numpy(), pb.DTYPE_BFLOAT16
    if t.dtype == torch.float16:
        return t.contiguous().numpy(), pb.DTYPE_FLOAT16
    if t.dtype == torch.float32:
        return t.contiguous().numpy(), pb.DTYPE_FLOAT32
    if t.dtype == torch.float64:
        return t.to(torch.float32).contiguous().numpy(), pb.DTYPE_FLOAT32
    raise TypeError(f"logits must be a floating tensor (float32, float16, bfloat16), not {t.dtype}")


def _numpy_dtype(a: np.ndarray) -> tuple[np.ndarray, int]:
    dt = _NUMPY_DTYPES.get(a.dtype.newbyteorder("="))
    if dt is not None:
        return a, dt
    if a.dtype.name == "bfloat16" and a.dtype.itemsize == 2:  # ml_dtypes / JAX bfloat16
        return a.view(np.uint16), pb.DTYPE_BFLOAT16
    if a.dtype.newbyteorder("=") in (np.dtype(np.uint16), np.dtype(np.int16)):
        return a, pb.DTYPE_BFLOAT16  # numpy has no bfloat16: a 16-bit view holds its bits
    if a.dtype == np.float64:
        return a.astype(np.float32), pb.DTYPE_FLOAT32
    raise TypeError(
        f"logits must be float32, float16 or bfloat16, not {a.dtype}; "
        "convert with .astype(np.float32)"
    )


def _wire_array(logits: Any) -> tuple[np.ndarray, int]:
    """`logits` as a C-contiguous, little-endian [rows, vocab] array, and its wire dtype."""
    if _is_torch_tensor(logits):
        arr, dtype = _torch_to_numpy(logits)
    else:
        arr = np.asarray(logits)
        if arr.dtype.kind not in "fV" and arr.dtype.name != "bfloat16" \
                and not (arr.dtype.kind in "ui" and arr.dtype.itemsize == 2):
            raise TypeError(
                f"logits must be a float32/float16/bfloat16 array or tensor, not {arr.dtype}"
            )
        arr, dtype = _numpy_dtype(arr)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"logits must have shape [rows, vocab] or [vocab], not {list(arr.shape)}")
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr), dtype  # no copy when it already is (the usual case)


def to_logits(logits: Any) -> pb.Logits:
    """Returns `logits` ([rows, vocab] or [vocab]) as a `tally.v1.Logits` message.

    Accepts numpy arrays (float32, float16, ml_dtypes bfloat16, or uint16/int16 holding bfloat16
    bits; float64 is narrowed to float32),
    PyTorch tensors on any device (float32, float16, bfloat16 sent as its raw bits; float64
    narrowed), and ready-made `tally.v1.Logits` messages (passed through).
    """
    if isinstance(logits, pb.Logits):
        return logits
    arr, dtype = _wire_array(logits)
    rows, vocab = arr.shape
    return pb.Logits(dtype=dtype, rows=rows, vocab_size=vocab, data=arr.tobytes())


# Field 15, wire type 2 (length-delimited): both `SampleRequest.logits` / `SessionRequest.logits`
# and `Logits.data` are field 15.
_FIELD_15 = b"\x7a"


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class InlineRequest:
    """A request whose logits travel inline, serialized with one copy of the tensor's bytes.

    Building `Logits(data=...)` copies the tensor into the message and `SerializeToString` copies
    it again (about 2 ms for a [32 x 128256] bfloat16 step); this writes the request's other fields
    with protobuf and appends the logits field by hand, the tensor's bytes joined in straight from
    the array. The bytes are those protobuf would produce, with `logits` last (fields may come in
    any order on the wire). `message` (a `SampleRequest` or `SessionRequest` without logits) may be
    set after the tensor is checked, so that a bad tensor fails before the request is built.
    """

    __slots__ = ("message", "rows", "_header", "_data")

    def __init__(self, logits: Any, message: Any = None):
        arr, dtype = _wire_array(logits)
        self.message = message
        self.rows = arr.shape[0]
        self._header = pb.Logits(dtype=dtype, rows=arr.shape[0],
                                 vocab_size=arr.shape[1]).SerializeToString()
        self._data = arr

    def SerializeToString(self) -> bytes:  # noqa: N802 (the protobuf method it stands in for)
        if self.message.HasField("logits"):
            raise ValueError("the request already has logits")
        n = self._data.nbytes
        data_field = _FIELD_15 + _varint(n)
        logits_len = len(self._header) + len(data_field) + n
        return b"".join((self.message.SerializeToString(), _FIELD_15, _varint(logits_len),
                         self._header, data_field, memoryview(self._data).cast("B")))
