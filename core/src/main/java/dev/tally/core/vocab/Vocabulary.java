package dev.tally.core.vocab;

import dev.tally.core.error.TallyException;
import dev.tally.spi.TokenVocabulary;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A model's vocabulary: each token id's bytes (raw bytes, not text) and which ids are special.
 * Immutable. Its size may be smaller than the logits width: ids at or past {@link #size()} are
 * padding and, like special tokens, are never text.
 *
 * <p>All tokens share one byte array ({@code offsets[id]..offsets[id+1]}), so a 256k vocabulary is
 * two arrays, not a quarter of a million objects.
 */
public final class Vocabulary implements TokenVocabulary {
  private final String name;
  private final byte[] bytes;
  private final int[] offsets;
  private final long[] special;
  private final int[] specialIds;
  private final int[] eosIds;
  private final String fingerprint;

  private Vocabulary(String name, byte[] bytes, int[] offsets, int[] specialIds, int[] eosIds) {
    this.name = name;
    this.bytes = bytes;
    this.offsets = offsets;
    this.specialIds = specialIds;
    this.eosIds = eosIds;
    int size = offsets.length - 1;
    this.special = new long[(size + 63) >>> 6];
    for (int id : specialIds) {
      special[id >>> 6] |= 1L << id;
    }
    this.fingerprint = fingerprint(bytes, offsets, specialIds, eosIds);
  }

  /**
   * Builds a vocabulary from the wire form: every token's bytes concatenated in id order and each
   * token's length. Checks everything; field names are relative to the registration request.
   *
   * @throws TallyException INVALID_PARAMS naming the field at fault
   */
  public static Vocabulary of(String name, byte[] tokenBytes, int[] lengths, int[] specialIds,
      int[] eosIds) {
    checkName(name);
    if (lengths.length == 0) {
      throw TallyException.invalidParams("token_lengths", "a vocabulary needs at least one token");
    }
    int[] offsets = new int[lengths.length + 1];
    long at = 0;
    for (int id = 0; id < lengths.length; id++) {
      if (lengths[id] < 0) {
        throw TallyException.invalidParams("token_lengths[" + id + "]",
            "token " + id + " has a negative length: " + Integer.toUnsignedString(lengths[id]));
      }
      at += lengths[id];
      if (at > tokenBytes.length) {
        throw TallyException.invalidParams("token_lengths", "the token lengths add up to more than"
            + " the " + tokenBytes.length + " bytes of token_bytes (at token " + id + ")");
      }
      offsets[id + 1] = (int) at;
    }
    if (at != tokenBytes.length) {
      throw TallyException.invalidParams("token_bytes", "token_bytes holds " + tokenBytes.length
          + " bytes but the token lengths add up to " + at);
    }
    int[] special = sortedIds(specialIds, lengths.length, "special_token_ids");
    int[] eos = sortedIds(eosIds, lengths.length, "eos_token_ids");
    return new Vocabulary(name, tokenBytes, offsets, special, eos);
  }

  private static void checkName(String name) {
    if (name.isEmpty() || name.length() > 128 || !name.matches("[A-Za-z0-9._:/@+-]+")) {
      throw TallyException.invalidParams("name", "a vocabulary name is 1-128 characters of"
          + " letters, digits and ._:/@+- ; got '" + name + "'");
    }
  }

  private static int[] sortedIds(int[] ids, int size, String field) {
    int[] sorted = ids.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < sorted.length; i++) {
      if (sorted[i] < 0 || sorted[i] >= size) {
        throw TallyException.invalidParams(field, field + " names token " + sorted[i]
            + ", outside the vocabulary's " + size + " tokens");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        throw TallyException.invalidParams(field, field + " names token " + sorted[i] + " twice");
      }
    }
    return sorted;
  }

  private static String fingerprint(byte[] bytes, int[] offsets, int[] special, int[] eos) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      ByteBuffer ints = ByteBuffer.allocate(4 * (offsets.length + special.length + eos.length + 3))
          .order(ByteOrder.LITTLE_ENDIAN);
      ints.putInt(offsets.length - 1);
      for (int o : offsets) {
        ints.putInt(o);
      }
      ints.putInt(special.length);
      for (int id : special) {
        ints.putInt(id);
      }
      ints.putInt(eos.length);
      for (int id : eos) {
        ints.putInt(id);
      }
      sha.update(ints.array());
      sha.update(bytes);
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  @Override
  public String name() {
    return name;
  }

  /** Number of tokens; logits may be wider (padding). */
  @Override
  public int size() {
    return offsets.length - 1;
  }

  /** Whether {@code id} is text: inside the vocabulary and not special. */
  @Override
  public boolean isText(int id) {
    return id >= 0 && id < size() && (special[id >>> 6] & (1L << id)) == 0;
  }

  public boolean isSpecial(int id) {
    return id >= 0 && id < size() && (special[id >>> 6] & (1L << id)) != 0;
  }

  /** The bytes a token adds to the output text: none for special and padded ids. */
  @Override
  public int textLength(int id) {
    return isText(id) ? offsets[id + 1] - offsets[id] : 0;
  }

  /**
   * Copies the last {@code count} of token {@code id}'s text bytes to {@code dst[at..]}.
   * {@code count ≤ textLength(id)}.
   */
  @Override
  public void copyTextTail(int id, int count, byte[] dst, int at) {
    System.arraycopy(bytes, offsets[id + 1] - count, dst, at, count);
  }

  /** The token's bytes as registered (special tokens included), a copy. */
  public byte[] tokenBytes(int id) {
    return Arrays.copyOfRange(bytes, offsets[id], offsets[id + 1]);
  }

  public int[] specialTokenIds() {
    return specialIds.clone();
  }

  @Override
  public int[] eosTokenIds() {
    return eosIds.clone();
  }

  /** Bytes of all tokens together. */
  public long tokenByteCount() {
    return bytes.length;
  }

  /** What the vocabulary holds in memory, roughly: its arrays. */
  public long memoryBytes() {
    return bytes.length + 4L * offsets.length + 8L * special.length + 4L * specialIds.length;
  }

  /** SHA-256 over the tokens, special ids and EOS ids: equal vocabularies, equal fingerprints. */
  @Override
  public String fingerprint() {
    return fingerprint;
  }
}
