package dev.tally.server.grpc;

import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SharedMemoryRef;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.server.shm.Lease;
import dev.tally.server.shm.RegionTable;

/**
 * A step's logits as the sampler reads them: inline bytes of the request, or bytes of a
 * shared-memory region held by a {@link Lease} until the step is answered.
 */
record StepLogits(LogitsTensor tensor, Lease lease) {
  /**
   * Checks the limits and the shape, and wraps the bytes without copying them.
   *
   * @param regions where shared-memory references are looked up first, then {@code fallback}
   *     (either may be null: no regions there)
   */
  static StepLogits of(Logits logits, StepLimits limits, RegionTable regions,
      RegionTable fallback) {
    limits.check(logits);
    if (logits.getSourceCase() != Logits.SourceCase.SHARED_MEMORY) {
      return new StepLogits(ProtoMapper.toTensor(logits), null);
    }
    SharedMemoryRef ref = logits.getSharedMemory();
    String field = "logits.shared_memory";
    long rows = Integer.toUnsignedLong(logits.getRows());
    long vocab = Integer.toUnsignedLong(logits.getVocabSize());
    // The shape is checked before any region is touched; the tensor checks the rest.
    LogitsTensor.checkShape(ProtoMapper.toDType(logits.getDtype()), rows, vocab);
    long expected = rows * vocab * ProtoMapper.toDType(logits.getDtype()).bytes();
    if (ref.getByteSize() != expected) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, field + ".byte_size", field
          + ".byte_size is " + Long.toUnsignedString(ref.getByteSize()) + "; [" + rows + " x "
          + vocab + "] " + ProtoMapper.toDType(logits.getDtype()) + " needs " + expected);
    }
    RegionTable table = regions != null ? regions : fallback;
    if (table == null) {
      throw new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, field,
          "this call did not come through one of the server's listeners: no shared memory");
    }
    Lease lease = RegionTable.lease(table, regions != null ? fallback : null, ref.getRegion(),
        ref.getOffset(), ref.getByteSize(), field);
    try {
      return new StepLogits(ProtoMapper.toTensor(logits, lease.bytes()), lease);
    } catch (RuntimeException e) {
      lease.release();
      throw e;
    }
  }

  /** Inline bytes on the wire (0 for a reference), for the step metrics. */
  static long inlineBytes(Logits logits) {
    return logits.getSourceCase() == Logits.SourceCase.DATA ? logits.getData().size() : 0;
  }

  /**
   * What a failed step tells the client: a fault while reading the region (it shrank, or was
   * unmapped under a late reader) drops the region and is {@code REGION_UNAVAILABLE}; anything
   * else is Tally's own {@code INTERNAL}.
   */
  TallyException failure(Throwable error) {
    if (lease != null && isMappingFault(error)) {
      return lease.lost(error);
    }
    return Errors.internal(error);
  }

  boolean isMappingFault(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof InternalError || t instanceof IllegalStateException) {
        return true;
      }
    }
    return false;
  }

  /** The step is answered (or failed): the client may reuse the bytes. */
  void release() {
    if (lease != null) {
      lease.release();
    }
  }
}
