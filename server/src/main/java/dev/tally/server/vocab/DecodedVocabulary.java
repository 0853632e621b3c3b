package dev.tally.server.vocab;

import java.util.Arrays;

/**
 * A decoded {@code tokenizer.json} (see {@link TokenizerJson}): each id's raw bytes, which ids are
 * special, and the id of each piece. Immutable.
 *
 * <p>All tokens share one byte array ({@code offsets[id]..offsets[id+1]}) and the pieces of {@link
 * #idOf} one char array, so a 256k vocabulary is a handful of arrays, not a million objects.
 */
public final class DecodedVocabulary {
  private final String kind;
  private final byte[] bytes;
  private final int[] offsets;
  private final long[] special;
  private final int[] specialIds;
  private final PieceIndex pieces;

  DecodedVocabulary(String kind, byte[] bytes, int[] offsets, boolean[] special,
      PieceIndex pieces) {
    this.kind = kind;
    this.bytes = bytes;
    this.offsets = offsets;
    this.pieces = pieces;
    this.special = new long[(special.length + 63) >>> 6];
    int count = 0;
    for (int id = 0; id < special.length; id++) {
      if (special[id]) {
        this.special[id >>> 6] |= 1L << id;
        count++;
      }
    }
    this.specialIds = new int[count];
    for (int id = 0, i = 0; id < special.length; id++) {
      if (special[id]) {
        specialIds[i++] = id;
      }
    }
  }

  /** The number of ids: the largest id of the model vocabulary and the added tokens, plus one. */
  public int size() {
    return offsets.length - 1;
  }

  /** A copy of the bytes {@code id} adds to the output: empty for a special token or a gap id. */
  public byte[] tokenBytes(int id) {
    check(id);
    return Arrays.copyOfRange(bytes, offsets[id], offsets[id + 1]);
  }

  /** Whether {@code id} is a special added token or a gap (an id no token has): never text. */
  public boolean isSpecial(int id) {
    check(id);
    return (special[id >>> 6] & (1L << id)) != 0;
  }

  /** The special ids (special added tokens and gaps), ascending. */
  public int[] specialTokenIds() {
    return specialIds.clone();
  }

  /**
   * The id of the token whose {@code tokenizer.json} string is {@code piece}: an {@code
   * added_tokens} content first (as Hugging Face's {@code token_to_id} looks), else a {@code
   * model.vocab} piece; -1 when neither has it.
   */
  public int idOf(String piece) {
    return pieces.idOf(piece);
  }

  /**
   * How model pieces were decoded: {@code "byte_level"}, {@code "byte_fallback"} or {@code
   * "raw"}.
   */
  public String kind() {
    return kind;
  }

  /** A copy of every token's bytes concatenated in id order (the wire's {@code token_bytes}). */
  public byte[] packedBytes() {
    return Arrays.copyOf(bytes, offsets[size()]);
  }

  /** Each token's byte length, in id order (the wire's {@code token_lengths}). */
  public int[] lengths() {
    int[] lengths = new int[size()];
    for (int id = 0; id < lengths.length; id++) {
      lengths[id] = offsets[id + 1] - offsets[id];
    }
    return lengths;
  }

  private void check(int id) {
    if (id < 0 || id >= size()) {
      throw new IndexOutOfBoundsException("token id " + id + " is outside the vocabulary of "
          + size());
    }
  }

  /**
   * Piece → id as an open-addressing table over one packed char array. Each key remembers whether
   * an added token put it there: added tokens win over model pieces, while two model entries for
   * one key are reported (by {@link #putModel}) so that the parser can tell a duplicate JSON key.
   */
  static final class PieceIndex {
    private char[] chars = new char[1 << 12];
    private int charCount;
    private int[] starts;
    private int[] ids;
    private boolean[] fromAdded;
    private int[] slots; // key index + 1; 0 is empty
    private int keys;

    PieceIndex(int expectedKeys) {
      int capacity = Math.max(16, expectedKeys);
      starts = new int[capacity + 1];
      ids = new int[capacity];
      fromAdded = new boolean[capacity];
      slots = new int[Integer.highestOneBit(Math.max(capacity, 8) * 2 - 1) << 1];
    }

    int idOf(String piece) {
      int key = find(piece);
      return key < 0 ? -1 : ids[key];
    }

    /**
     * Adds a model piece unless the key is there already.
     *
     * @return -1 when added, else the id already held by the key
     */
    int putModel(String piece, int id) {
      int key = find(piece);
      if (key >= 0) {
        return ids[key];
      }
      insert(piece, id, false);
      return -1;
    }

    /** Adds an added token's content: it replaces a model piece, not an earlier added token. */
    void putAdded(String content, int id) {
      int key = find(content);
      if (key < 0) {
        insert(content, id, true);
      } else if (!fromAdded[key]) {
        ids[key] = id;
        fromAdded[key] = true;
      }
    }

    private int find(String piece) {
      int mask = slots.length - 1;
      for (int slot = mix(piece.hashCode()) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
        int key = slots[slot] - 1;
        if (matches(key, piece)) {
          return key;
        }
      }
      return -1;
    }

    private boolean matches(int key, String piece) {
      int start = starts[key];
      int length = starts[key + 1] - start;
      if (length != piece.length()) {
        return false;
      }
      for (int i = 0; i < length; i++) {
        if (chars[start + i] != piece.charAt(i)) {
          return false;
        }
      }
      return true;
    }

    private void insert(String piece, int id, boolean added) {
      if (keys == ids.length) {
        grow();
      }
      if (charCount + piece.length() > chars.length) {
        chars = Arrays.copyOf(chars, Math.max(2 * chars.length, charCount + piece.length()));
      }
      piece.getChars(0, piece.length(), chars, charCount);
      charCount += piece.length();
      ids[keys] = id;
      fromAdded[keys] = added;
      starts[keys + 1] = charCount;
      keys++;
      place(keys - 1, piece.hashCode());
    }

    private void place(int key, int hash) {
      int mask = slots.length - 1;
      int slot = mix(hash) & mask;
      while (slots[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      slots[slot] = key + 1;
    }

    /** Doubles the key arrays and rehashes, keeping the table at most half full. */
    private void grow() {
      int capacity = 2 * ids.length;
      starts = Arrays.copyOf(starts, capacity + 1);
      ids = Arrays.copyOf(ids, capacity);
      fromAdded = Arrays.copyOf(fromAdded, capacity);
      slots = new int[2 * slots.length];
      for (int key = 0; key < keys; key++) {
        place(key, hashOf(key));
      }
    }

    /** String.hashCode of a stored key, so that lookups hash the query the same way. */
    private int hashOf(int key) {
      int hash = 0;
      for (int i = starts[key]; i < starts[key + 1]; i++) {
        hash = 31 * hash + chars[i];
      }
      return hash;
    }

    /** Spreads String.hashCode's low bits, which are poor for short similar pieces. */
    private static int mix(int hash) {
      int h = hash * 0x9E3779B9;
      return h ^ (h >>> 16);
    }
  }
}
