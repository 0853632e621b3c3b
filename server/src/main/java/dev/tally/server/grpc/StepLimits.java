package dev.tally.server.grpc;

import dev.tally.api.v1.Logits;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;

/**
 * The per-step limits of the server, checked before a tensor is looked at. Rows and vocabulary
 * each have a bound, and so does their product: the work of a step (and, inline, its bytes) grows
 * with rows × vocabulary, so many rows of a small vocabulary are as welcome as few of a large one.
 */
record StepLimits(int maxRows, int maxVocabSize, long maxStepElements) {
  void check(Logits logits) {
    long rows = Integer.toUnsignedLong(logits.getRows());
    long vocab = Integer.toUnsignedLong(logits.getVocabSize());
    if (rows > maxRows) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "logits.rows", "logits.rows is " + rows
          + "; this server's limit (max_rows) is " + maxRows);
    }
    if (vocab > maxVocabSize) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "logits.vocab_size", "logits.vocab_size is "
          + vocab + "; this server's limit (max_vocab_size) is " + maxVocabSize);
    }
    if (rows * vocab > maxStepElements) { // both below 2^32: the product fits a long
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "logits", "logits has " + rows + " × "
          + vocab + " = " + rows * vocab + " elements; this server's limit (max_step_elements) is "
          + maxStepElements);
    }
  }
}
