"""Shared-memory logits: the step's tensor is written once into memory Tally maps, and the gRPC
message only says where it is (docs/shared-memory.md).

A region is a sealed memfd of this process (`/proc/PID/fd/FD`: it dies with the process, so a
killed client leaves nothing behind), or, where the server cannot open that (another PID
namespace), a `/dev/shm` object that is unlinked as soon as the server has mapped it.
"""

from __future__ import annotations

import fcntl
import itertools
import mmap
import os
from typing import Any, Callable, Optional

import numpy as np

from tally_client._proto.tally.v1 import sampler_pb2 as pb
from tally_client._tensor import _is_torch_tensor, _numpy_dtype

_counter = itertools.count()
_ALIGN = 4096


def _round_up(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class Region:
    """A shared-memory object of this process, mapped for writing.

    `register(request)` is given the `tally.v1.RegisterSharedMemoryRequest` and sends it (unary or
    in-band); it raises on refusal.
    """

    def __init__(self, byte_size: int, register: Callable[[pb.RegisterSharedMemoryRequest], Any]):
        self.byte_size = _round_up(max(byte_size, 1))
        self.name = f"py-{os.getpid()}-{next(_counter)}"
        self._fd: Optional[int] = None
        self._mm: Optional[mmap.mmap] = None
        try:
            self._open_memfd()
            register(self._request())
        except Exception as memfd_error:
            self.close()
            if not _refused(memfd_error):
                raise
            self._open_dev_shm(register)

    def _request(self) -> pb.RegisterSharedMemoryRequest:
        return pb.RegisterSharedMemoryRequest(name=self.name, key=self.key,
                                              byte_size=self.byte_size)

    def _open_memfd(self) -> None:
        fd = os.memfd_create(self.name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self._fd = fd
        os.ftruncate(fd, self.byte_size)
        # Sealed: neither side can shrink it, so no read of Tally's can fault.
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        self._mm = mmap.mmap(fd, self.byte_size)
        self.key = f"/proc/{os.getpid()}/fd/{fd}"

    def _open_dev_shm(self, register: Callable[[pb.RegisterSharedMemoryRequest], Any]) -> None:
        path = f"/dev/shm/tally-{self.name}"
        # 0640: in a pod, Tally runs as another user of the shared group (fsGroup).
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o640)
        self._fd = fd
        try:
            os.ftruncate(fd, self.byte_size)
            self._mm = mmap.mmap(fd, self.byte_size)
            self.key = "/" + os.path.basename(path)
            register(self._request())
        except BaseException:
            self.close()
            raise
        finally:
            os.unlink(path)  # mapped by the server now (or never): no name left behind

    def write(self, offset: int, logits: Any) -> pb.Logits:
        """Copies `logits` ([rows, vocab] or [vocab]) into bytes at `offset`, once; returns the
        `tally.v1.Logits` that names them."""
        assert self._mm is not None
        if _is_torch_tensor(logits):
            return self._write_torch(offset, logits)
        arr, dtype = _numpy_dtype(np.asarray(logits))
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise ValueError(f"logits must have shape [rows, vocab] or [vocab], not {list(arr.shape)}")
        rows, vocab = arr.shape
        nbytes = rows * vocab * arr.dtype.itemsize
        self._check(offset, nbytes)
        dst = np.ndarray(arr.shape, dtype=arr.dtype.newbyteorder("<"), buffer=self._mm,
                         offset=offset)
        np.copyto(dst, arr)  # strides and byte order handled in the one copy
        del dst
        return _ref(self.name, dtype, rows, vocab, offset, nbytes)

    def _write_torch(self, offset: int, t: Any) -> pb.Logits:
        import torch

        t = t.detach()
        if t.dim() == 1:
            t = t.reshape(1, -1)
        if t.dim() != 2:
            raise ValueError(f"logits must have shape [rows, vocab] or [vocab], not {list(t.shape)}")
        kinds = {torch.float32: pb.DTYPE_FLOAT32, torch.float16: pb.DTYPE_FLOAT16,
                 torch.bfloat16: pb.DTYPE_BFLOAT16, torch.float64: pb.DTYPE_FLOAT32}
        if t.dtype not in kinds:
            raise TypeError(f"logits must be a floating tensor (float32, float16, bfloat16), "
                            f"not {t.dtype}")
        out_dtype = torch.float32 if t.dtype == torch.float64 else t.dtype
        rows, vocab = t.shape
        nbytes = rows * vocab * (2 if out_dtype != torch.float32 else 4)
        self._check(offset, nbytes)
        if t.device.type == "cpu":
            # numpy's copy, on this thread: torch's copy_ of a large tensor runs on its OpenMP
            # threads, which then spin for a while and take the cores Tally samples the step on
            # (docs/shared-memory.md). A view, not a copy: bfloat16 as its bits.
            src = t.view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.numpy()
            dst = np.ndarray((rows, vocab), dtype=np.int16 if t.dtype == torch.bfloat16
                             else np.float32 if out_dtype == torch.float32 else np.float16,
                             buffer=self._mm, offset=offset)
            np.copyto(dst, src, casting="same_kind")  # strides and float64 narrowing, once
            del dst
            return _ref(self.name, kinds[t.dtype], rows, vocab, offset, nbytes)
        # A CUDA tensor: copy_ into a tensor over the mapping is the one device-to-host copy. Pin
        # the region (cudaHostRegister) to make it DMA.
        dst = torch.frombuffer(self._mm, dtype=out_dtype, count=rows * vocab,
                               offset=offset).view(rows, vocab)
        dst.copy_(t)
        del dst
        return _ref(self.name, kinds[t.dtype], rows, vocab, offset, nbytes)

    def _check(self, offset: int, nbytes: int) -> None:
        if offset + nbytes > self.byte_size:
            raise ValueError(f"{nbytes} bytes at {offset} do not fit region {self.name} of "
                             f"{self.byte_size} bytes")

    def close(self) -> None:
        """Unmaps and closes (the server drops its mapping when told, or when its owner ends)."""
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _ref(region: str, dtype: int, rows: int, vocab: int, offset: int, nbytes: int) -> pb.Logits:
    return pb.Logits(dtype=dtype, rows=rows, vocab_size=vocab,
                     shared_memory=pb.SharedMemoryRef(region=region, offset=offset,
                                                      byte_size=nbytes))


def _refused(error: BaseException) -> bool:
    """The server could not open a memfd of ours (another PID namespace): try /dev/shm."""
    return getattr(error, "reason", None) == "SHARED_MEMORY_UNAVAILABLE" and \
        "cannot open" in str(error)


def nbytes_of(logits: Any) -> int:
    """The bytes `logits` takes on the wire (float64 narrowed to float32)."""
    if _is_torch_tensor(logits):
        return int(logits.numel()) * (4 if logits.element_size() >= 4 else 2)
    arr = np.asarray(logits)
    return int(arr.size) * (4 if arr.dtype.itemsize >= 4 else 2)
