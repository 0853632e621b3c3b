package dev.tally.core.vocab;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The server's vocabularies by name. Registration is idempotent: the same vocabulary under the
 * same name again is a no-op, a different one under a taken name is refused. Rows and sequences
 * hold the {@link Vocabulary} their chain was compiled with, so removing one never disturbs them.
 * Thread-safe.
 */
public final class VocabularyRegistry {
  /** Registered vocabularies at once, unless configured otherwise. */
  public static final int DEFAULT_MAX_VOCABULARIES = 64;
  /** Token bytes plus tables of all vocabularies together, unless configured otherwise. */
  public static final long DEFAULT_MAX_BYTES = 512L << 20;

  private final int maxVocabularies;
  private final long maxBytes;
  private final Map<String, Vocabulary> byName = new TreeMap<>();
  private long bytes;

  public VocabularyRegistry(int maxVocabularies, long maxBytes) {
    this.maxVocabularies = maxVocabularies;
    this.maxBytes = maxBytes;
  }

  /** A registry that holds nothing and refuses registrations: for tools that need none. */
  public static VocabularyRegistry none() {
    return new VocabularyRegistry(0, 0);
  }

  public int maxVocabularies() {
    return maxVocabularies;
  }

  public long maxBytes() {
    return maxBytes;
  }

  /**
   * Registers {@code vocabulary} under its name.
   *
   * @return whether it was new ({@code false}: the identical vocabulary was there already)
   * @throws TallyException VOCABULARY_EXISTS for a different vocabulary under the name,
   *     LIMIT_EXCEEDED past the count or byte limit
   */
  public synchronized boolean register(Vocabulary vocabulary) {
    Vocabulary old = byName.get(vocabulary.name());
    if (old != null) {
      if (old.fingerprint().equals(vocabulary.fingerprint())) {
        return false;
      }
      throw new TallyException(ErrorCode.VOCABULARY_EXISTS, "name", "vocabulary '"
          + vocabulary.name() + "' is registered already with other tokens (fingerprint "
          + old.fingerprint().substring(0, 12) + "); unregister it first or choose another name");
    }
    if (byName.size() >= maxVocabularies) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "name", "this server holds "
          + byName.size() + " vocabularies, its limit (max_vocabularies)");
    }
    long size = vocabulary.memoryBytes();
    if (bytes + size > maxBytes) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "token_bytes", "vocabulary '"
          + vocabulary.name() + "' needs " + size + " bytes; " + (maxBytes - bytes)
          + " of this server's " + maxBytes + " (max_vocabulary_bytes) are left");
    }
    byName.put(vocabulary.name(), vocabulary);
    bytes += size;
    return true;
  }

  /** Removes a vocabulary; chains compiled with it keep working. */
  public synchronized boolean unregister(String name) {
    Vocabulary old = byName.remove(name);
    if (old != null) {
      bytes -= old.memoryBytes();
    }
    return old != null;
  }

  /**
   * The vocabulary named by a request.
   *
   * @throws TallyException UNKNOWN_VOCABULARY
   */
  public synchronized Vocabulary lookup(String name, String field) {
    Vocabulary v = byName.get(name);
    if (v == null) {
      throw new TallyException(ErrorCode.UNKNOWN_VOCABULARY, field, "no vocabulary named '" + name
          + "' is registered" + (byName.isEmpty() ? " (none is; see RegisterVocabulary)"
              : "; registered: " + String.join(", ", byName.keySet())));
    }
    return v;
  }

  /** Every vocabulary, by name. */
  public synchronized List<Vocabulary> list() {
    return new ArrayList<>(byName.values());
  }

  /** Bytes held by all vocabularies. */
  public synchronized long bytes() {
    return bytes;
  }
}
