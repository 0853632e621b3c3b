package dev.tally.core.engine;

import dev.tally.spi.TokenHistory;
import java.util.Arrays;

/** A growable token history: prompt then output, with the largest id kept for vocabulary checks. */
public final class TokenLog implements TokenHistory {
  private int[] tokens;
  private final int promptLength;
  private int length;
  private int maxTokenId = -1;
  private final boolean view;

  private TokenLog(int[] tokens, int promptLength, int length) {
    this(tokens, promptLength, length, false);
  }

  private TokenLog(int[] tokens, int promptLength, int length, boolean view) {
    this.view = view;
    this.tokens = tokens;
    this.promptLength = promptLength;
    this.length = length;
    for (int i = 0; i < length; i++) {
      maxTokenId = Math.max(maxTokenId, tokens[i]);
    }
  }

  /**
   * A history from prompt and output ids (copied).
   *
   * @throws IllegalArgumentException for a negative id
   */
  public static TokenLog of(int[] prompt, int[] output) {
    int[] tokens = new int[Math.max(16, prompt.length + output.length + 16)];
    System.arraycopy(prompt, 0, tokens, 0, prompt.length);
    System.arraycopy(output, 0, tokens, prompt.length, output.length);
    for (int i = 0; i < prompt.length + output.length; i++) {
      if (tokens[i] < 0) {
        throw new IllegalArgumentException("negative token id " + tokens[i] + " at position " + i);
      }
    }
    return new TokenLog(tokens, prompt.length, prompt.length + output.length);
  }

  /** An empty history. */
  public static TokenLog empty() {
    return new TokenLog(new int[16], 0, 0);
  }

  /**
   * The first {@code length} tokens as a prompt with no output, sharing this history's array: a
   * read-only view for a row that scores a prompt token. It must not outlive a truncation of this
   * history; appending to it is refused.
   */
  public TokenLog promptPrefix(int length) {
    if (length < 0 || length > this.length) {
      throw new IndexOutOfBoundsException(length);
    }
    return new TokenLog(tokens, length, length, true);
  }

  /** An independent copy (a forked sequence's history). */
  public TokenLog copy() {
    TokenLog c = new TokenLog(Arrays.copyOf(tokens, Math.max(16, length + 16)), promptLength, 0);
    c.length = length;
    c.maxTokenId = maxTokenId;
    return c;
  }

  /** Appends an output token. */
  public void append(int tokenId) {
    if (view) {
      throw new IllegalStateException("a prompt prefix is read-only");
    }
    if (tokenId < 0) {
      throw new IllegalArgumentException("negative token id " + tokenId);
    }
    if (length == tokens.length) {
      tokens = Arrays.copyOf(tokens, tokens.length * 2);
    }
    tokens[length++] = tokenId;
    maxTokenId = Math.max(maxTokenId, tokenId);
  }

  /**
   * Cuts the history back to its first {@code newLength} tokens (a session step rolled back).
   *
   * @throws IllegalArgumentException if that would cut into the prompt or grow the history
   */
  public void truncate(int newLength) {
    if (view) {
      throw new IllegalStateException("a prompt prefix is read-only");
    }
    if (newLength < promptLength || newLength > length) {
      throw new IllegalArgumentException("cannot truncate a history of " + length
          + " tokens (prompt " + promptLength + ") to " + newLength);
    }
    if (newLength == length) {
      return;
    }
    length = newLength;
    maxTokenId = -1;
    for (int i = 0; i < length; i++) {
      maxTokenId = Math.max(maxTokenId, tokens[i]);
    }
  }

  @Override
  public int promptLength() {
    return promptLength;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public int token(int index) {
    if (index >= length) {
      throw new IndexOutOfBoundsException(index);
    }
    return tokens[index];
  }

  /** The largest token id in the history, or -1 when empty. */
  public int maxTokenId() {
    return maxTokenId;
  }
}
