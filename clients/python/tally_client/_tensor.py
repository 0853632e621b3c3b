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


def to_logits(logits: Any) -> pb.Logits:
    """Returns `logits` ([rows, vocab] or [vocab]) as a `tally.v1.Logits` message.

    Accepts numpy arrays (float32, float16, ml_dtypes bfloat16, or uint16/int16 holding bfloat16
    bits; float64 is narrowed to float32),
    PyTorch tensors on any device (float32, float16, bfloat16 sent as its raw bits; float64
    narrowed), and ready-made `tally.v1.Logits` messages (passed through).
    """
    if isinstance(logits, pb.Logits):
        return logits
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
    rows, vocab = arr.shape
    # Little-endian, row-major: one copy into the message's bytes (two for a strided view).
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    data = np.ascontiguousarray(arr).tobytes()
    return pb.Logits(dtype=dtype, rows=rows, vocab_size=vocab, data=data)
