package dev.tally.structured.regex;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A set of code points as ranges. Surrogates (U+D800–U+DFFF) are never in a normalized set: the
 * automata spell UTF-8, where they cannot occur.
 */
final class Ranges {
  private static final int MAX = Character.MAX_CODE_POINT;
  private final List<int[]> spans = new ArrayList<>();

  void add(int c) {
    add(c, c);
  }

  void add(int lo, int hi) {
    spans.add(new int[] {lo, hi});
  }

  void addAll(Ranges other) {
    spans.addAll(other.spans);
  }

  boolean isSingle() {
    return spans.size() == 1 && spans.get(0)[0] == spans.get(0)[1];
  }

  int single() {
    return spans.get(0)[0];
  }

  /** Sorted, merged, without surrogates. */
  int[][] normalized() {
    List<int[]> sorted = new ArrayList<>();
    for (int[] s : spans) {
      // Cut the surrogate block out.
      if (s[1] < 0xD800 || s[0] > 0xDFFF) {
        sorted.add(s.clone());
      } else {
        if (s[0] < 0xD800) {
          sorted.add(new int[] {s[0], 0xD7FF});
        }
        if (s[1] > 0xDFFF) {
          sorted.add(new int[] {0xE000, s[1]});
        }
      }
    }
    sorted.sort(Comparator.comparingInt(s -> s[0]));
    List<int[]> merged = new ArrayList<>();
    for (int[] s : sorted) {
      int[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (last != null && s[0] <= last[1] + 1) {
        last[1] = Math.max(last[1], s[1]);
      } else {
        merged.add(s);
      }
    }
    return merged.toArray(new int[0][]);
  }

  /** Every code point not in this set. */
  Ranges complement() {
    Ranges out = new Ranges();
    int next = 0;
    for (int[] s : normalized()) {
      if (s[0] > next) {
        out.add(next, s[0] - 1);
      }
      next = s[1] + 1;
    }
    if (next <= MAX) {
      out.add(next, MAX);
    }
    return out;
  }

  /** {@code .}: anything but ECMAScript's line terminators (\n, \r, U+2028, U+2029). */
  static Ranges dot() {
    Ranges r = new Ranges();
    r.add('\n');
    r.add('\r');
    r.add(0x2028, 0x2029);
    return r.complement();
  }

  static Ranges digit() {
    Ranges r = new Ranges();
    r.add('0', '9');
    return r;
  }

  /** {@code \w}: ASCII letters, digits and underscore, as ECMAScript. */
  static Ranges word() {
    Ranges r = new Ranges();
    r.add('a', 'z');
    r.add('A', 'Z');
    r.add('0', '9');
    r.add('_');
    return r;
  }

  /** {@code \s}: ECMAScript's WhiteSpace and LineTerminator. */
  static Ranges space() {
    Ranges r = new Ranges();
    r.add('\t', '\r'); // \t \n \v \f \r
    r.add(' ');
    r.add(0xA0);
    r.add(0x1680);
    r.add(0x2000, 0x200A);
    r.add(0x2028, 0x2029);
    r.add(0x202F);
    r.add(0x205F);
    r.add(0x3000);
    r.add(0xFEFF);
    return r;
  }
}
