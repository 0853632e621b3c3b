package dev.tally.structured.automaton;

import dev.tally.structured.regex.Regex;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.lucene.util.automaton.Automaton;
import org.apache.lucene.util.automaton.ByteRunAutomaton;
import org.apache.lucene.util.automaton.Operations;
import org.apache.lucene.util.automaton.UTF32ToUTF8;

/**
 * A constraint compiled over a vocabulary: a deterministic automaton over the output's UTF-8
 * bytes, walked token by token. State {@code s} allows a text token when the automaton, from
 * {@code s}, survives all of the token's bytes (every surviving state can still reach a match:
 * the automaton has no dead states), and allows the end-of-sequence tokens when {@code s} accepts.
 *
 * <p>The allowed set of a state is computed once, as a bitset over the vocabulary (by a walk of
 * the vocabulary's {@link TokenTrie}), and cached: in a constrained sequence the same states
 * recur (inside a string, after a separator), and then a step's mask is a lookup. Immutable but
 * for that cache; thread-safe.
 */
public final class TokenDfa {
  /** Bytes of cached masks per constraint (16 KB each at a 128k vocabulary). */
  static final long MAX_CACHED_BYTES = 64L << 20;
  /** A state with no token to go on: the constraint is stuck (its automaton cannot be left). */
  public static final int REJECT = -1;

  private final ByteRunAutomaton run;
  private final TokenTable tokens;
  private final int[] eos;
  private final ConcurrentHashMap<Integer, long[]> masks = new ConcurrentHashMap<>();
  private final int maxCached;
  private final int width; // mask bits: the vocabulary, and any EOS id past it

  /**
   * @param automaton a deterministic code-point automaton without dead states ({@link Regex})
   * @param eos the end-of-sequence ids, allowed where the output so far matches
   */
  public TokenDfa(Automaton automaton, TokenTable tokens, int[] eos) {
    this.run = new ByteRunAutomaton(utf8(automaton), true, Integer.MAX_VALUE);
    this.tokens = tokens;
    this.eos = eos.clone();
    Arrays.sort(this.eos);
    this.width = Math.max(tokens.size(), this.eos.length == 0 ? 0 : this.eos[this.eos.length - 1] + 1);
    long maskBytes = 8L * words(width);
    this.maxCached = (int) Math.max(1, Math.min(Integer.MAX_VALUE, MAX_CACHED_BYTES / maskBytes));
  }

  /**
   * The automaton over UTF-8 bytes. Lucene's conversion alone also admits overlong three- and
   * four-byte forms (E0 80..9F, F0 80..8F), which are not UTF-8 and which a byte-level vocabulary
   * can spell; so the bytes are intersected with well-formed UTF-8 (RFC 3629, table 3-7).
   */
  static Automaton utf8(Automaton codePoints) {
    Automaton bytes = new UTF32ToUTF8().convert(codePoints);
    Automaton wellFormed = Operations.intersection(bytes, WELL_FORMED);
    return Operations.removeDeadStates(
        Operations.determinize(wellFormed, Operations.DEFAULT_DETERMINIZE_WORK_LIMIT));
  }

  /** Any sequence of well-formed UTF-8 characters. */
  private static final Automaton WELL_FORMED = wellFormed();

  private static Automaton wellFormed() {
    Automaton a = new Automaton();
    int start = a.createState();
    int tail1 = a.createState(); // one continuation byte to go
    int tail2 = a.createState();
    int tail3 = a.createState();
    int e0 = a.createState();
    int ed = a.createState();
    int f0 = a.createState();
    int f4 = a.createState();
    a.setAccept(start, true);
    a.addTransition(start, start, 0x00, 0x7F);
    a.addTransition(start, tail1, 0xC2, 0xDF);
    a.addTransition(start, e0, 0xE0, 0xE0);
    a.addTransition(start, tail2, 0xE1, 0xEC);
    a.addTransition(start, ed, 0xED, 0xED);
    a.addTransition(start, tail2, 0xEE, 0xEF);
    a.addTransition(start, f0, 0xF0, 0xF0);
    a.addTransition(start, tail3, 0xF1, 0xF3);
    a.addTransition(start, f4, 0xF4, 0xF4);
    a.addTransition(tail1, start, 0x80, 0xBF);
    a.addTransition(tail2, tail1, 0x80, 0xBF);
    a.addTransition(tail3, tail2, 0x80, 0xBF);
    a.addTransition(e0, tail1, 0xA0, 0xBF);
    a.addTransition(ed, tail1, 0x80, 0x9F);
    a.addTransition(f0, tail2, 0x90, 0xBF);
    a.addTransition(f4, tail2, 0x80, 0x8F);
    a.finishState();
    return a;
  }

  private static int words(int size) {
    return (size + 63) >>> 6;
  }

  public TokenTable tokens() {
    return tokens;
  }

  public int start() {
    return 0;
  }

  public boolean isAccept(int state) {
    return run.isAccept(state);
  }

  public boolean isEos(int id) {
    return Arrays.binarySearch(eos, id) >= 0;
  }

  /**
   * The state after {@code id}, or {@link #REJECT} when the constraint does not allow it: an EOS
   * token keeps an accepting state; a special or padded id, or an empty token, is never allowed.
   */
  public int step(int state, int id) {
    if (isEos(id)) {
      return run.isAccept(state) ? state : REJECT;
    }
    if (id < 0 || id >= tokens.size()) {
      return REJECT;
    }
    int from = tokens.start(id);
    int to = tokens.end(id);
    if (from == to) {
      return REJECT; // special, or no bytes: it would not advance the text
    }
    int s = state;
    for (int i = from; i < to && s >= 0; i++) {
      s = run.step(s, tokens.at(i) & 0xFF);
    }
    return s < 0 ? REJECT : s;
  }

  /** The tokens allowed in {@code state}, a bitset over the vocabulary. Do not modify it. */
  public long[] mask(int state) {
    long[] cached = masks.get(state);
    if (cached != null) {
      return cached;
    }
    long[] mask = computeMask(state);
    if (masks.size() < maxCached) {
      masks.putIfAbsent(state, mask);
    }
    return mask;
  }

  /**
   * Walks the vocabulary's trie in preorder from {@code state}: a node whose byte the automaton
   * refuses is skipped with its whole subtree, so a shared prefix is stepped once and a refused
   * one costs nothing below it.
   */
  private long[] computeMask(int state) {
    TokenTrie trie = tokens.trie();
    long[] mask = new long[words(width)];
    int[] states = new int[trie.maxDepth() + 1];
    states[0] = state;
    int nodes = trie.nodes();
    for (int n = 1; n < nodes; ) {
      int d = trie.depth(n);
      int s = run.step(states[d - 1], trie.label(n));
      if (s < 0) {
        n = trie.subtreeEnd(n);
        continue;
      }
      states[d] = s;
      trie.markIds(n, mask);
      n++;
    }
    if (run.isAccept(state)) {
      for (int id : eos) {
        mask[id >>> 6] |= 1L << id;
      }
    }
    return mask;
  }

  /** Whether {@code id} is set in {@code mask}. */
  public static boolean allowed(long[] mask, int id) {
    return id >= 0 && (id >>> 6) < mask.length && (mask[id >>> 6] & (1L << id)) != 0;
  }
}
