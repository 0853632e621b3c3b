package dev.tally.structured.regex;

import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.util.automaton.Automata;
import org.apache.lucene.util.automaton.Automaton;
import org.apache.lucene.util.automaton.Operations;
import org.apache.lucene.util.automaton.TooComplexToDeterminizeException;

/**
 * Regular expressions (ECMAScript / JSON Schema syntax) to deterministic automata over code
 * points, for a constraint that the whole output matches. The parser is Tally's, so that every
 * construct it does not support is an error naming it, never a looser language; Lucene's automata
 * do the set operations and the determinization, under a work limit.
 *
 * <p>Supported: literals; {@code .} (any character but a line terminator); classes {@code [a-z]},
 * {@code [^…]}; {@code \d \D \w \W \s \S}; the escapes {@code \n \r \t \f \v \0 \xHH &#92;uHHHH
 * &#92;u{H…}} and escaped punctuation; groups {@code (…)}, {@code (?:…)}, {@code (?<name>…)};
 * {@code |}; the quantifiers {@code * + ? {n} {n,} {n,m}} (lazy forms too: they match the same
 * strings); {@code ^} at the start and {@code $} at the end (the match is always whole).
 * Refused, by name: backreferences, lookaround, word boundaries, Unicode property escapes,
 * inline flags, possessive quantifiers, anchors inside the pattern.
 */
public final class Regex {
  /** The largest {@code {n,m}} bound. */
  public static final int MAX_REPEAT = 1_000;
  /** Pattern length, in characters. */
  public static final int MAX_LENGTH = 1 << 16;
  /** Groups inside groups. */
  public static final int MAX_NESTING = 256;
  /** States of the deterministic automaton. */
  public static final int MAX_STATES = 100_000;
  /** Lucene's determinization work limit (its unit is roughly a state visit). */
  static final int WORK_LIMIT = 200_000;

  private static final int MAX_CODE_POINT = Character.MAX_CODE_POINT;

  private Regex() {}

  /**
   * Compiles {@code pattern} to a deterministic code-point automaton without dead states.
   *
   * @throws IllegalArgumentException naming the unsupported construct or the syntax error, and
   *     where it is
   */
  public static Automaton compile(String pattern) {
    if (pattern.length() > MAX_LENGTH) {
      throw new IllegalArgumentException("the pattern is " + pattern.length()
          + " characters; at most " + MAX_LENGTH + " are allowed");
    }
    Automaton nfa = new Parser(pattern).parse();
    Automaton dfa;
    try {
      dfa = Operations.determinize(Operations.removeDeadStates(nfa), WORK_LIMIT);
    } catch (TooComplexToDeterminizeException e) {
      throw new IllegalArgumentException("the pattern is too complex: its automaton needs more"
          + " than the work limit to determinize");
    }
    dfa = Operations.removeDeadStates(dfa);
    if (dfa.getNumStates() > MAX_STATES) {
      throw new IllegalArgumentException("the pattern's automaton has " + dfa.getNumStates()
          + " states; at most " + MAX_STATES + " are allowed");
    }
    if (Operations.isEmpty(dfa)) {
      throw new IllegalArgumentException("the pattern matches no string");
    }
    return dfa;
  }

  /** Recursive descent over the pattern's code points. */
  private static final class Parser {
    private final String pattern;
    private final int[] cp;
    private int pos;
    private int states;
    private int depth;

    Parser(String pattern) {
      this.pattern = pattern;
      this.cp = pattern.codePoints().toArray();
    }

    Automaton parse() {
      int end = cp.length;
      if (end > 0 && cp[0] == '^') {
        pos = 1;
      }
      if (end > pos && cp[end - 1] == '$' && !escaped(end - 1)) {
        end--;
      }
      Automaton a = alternation(end);
      if (pos != end) {
        throw error(cp[pos] == ')' ? "unbalanced ')'" : "unexpected '" + str(cp[pos]) + "'");
      }
      return a;
    }

    /** Whether the code point at {@code i} is preceded by an odd number of backslashes. */
    private boolean escaped(int i) {
      int n = 0;
      while (i - n - 1 >= 0 && cp[i - n - 1] == '\\') {
        n++;
      }
      return n % 2 == 1;
    }

    private Automaton alternation(int end) {
      List<Automaton> options = new ArrayList<>();
      options.add(sequence(end));
      while (pos < end && cp[pos] == '|') {
        pos++;
        options.add(sequence(end));
      }
      return options.size() == 1 ? options.get(0) : Operations.union(options);
    }

    private Automaton sequence(int end) {
      List<Automaton> parts = new ArrayList<>();
      while (pos < end && cp[pos] != '|' && cp[pos] != ')') {
        parts.add(quantified(atom(end), end));
      }
      return parts.isEmpty() ? Automata.makeEmptyString() : Operations.concatenate(parts);
    }

    private Automaton quantified(Automaton a, int end) {
      while (pos < end) {
        int c = cp[pos];
        int min;
        int max;
        if (c == '*') {
          min = 0;
          max = -1;
          pos++;
        } else if (c == '+') {
          min = 1;
          max = -1;
          pos++;
        } else if (c == '?') {
          min = 0;
          max = 1;
          pos++;
        } else if (c == '{' && isBound(pos)) {
          int[] bound = bound();
          min = bound[0];
          max = bound[1];
        } else {
          return a;
        }
        if (pos < end && cp[pos] == '+') {
          throw error("possessive quantifiers (" + str(c) + "+) are not supported");
        }
        if (pos < end && cp[pos] == '?') {
          pos++; // lazy: the same strings match
        }
        a = repeat(a, min, max);
      }
      return a;
    }

    private Automaton repeat(Automaton a, int min, int max) {
      budget((long) a.getNumStates() * Math.max(1, max < 0 ? min + 1 : max));
      if (max < 0) {
        return min == 0 ? Operations.repeat(a) : Operations.repeat(a, min);
      }
      if (min == 0 && max == 1) {
        return Operations.optional(a);
      }
      return Operations.repeat(a, min, max);
    }

    /** Counts the states the automaton under construction will have, roughly; refuses too many. */
    private void budget(long more) {
      states += (int) Math.min(more, Integer.MAX_VALUE);
      if (more > MAX_STATES || states > 4 * MAX_STATES) {
        throw error("the pattern is too large: its repetitions need more than " + MAX_STATES
            + " automaton states");
      }
    }

    private boolean isBound(int at) {
      int i = at + 1;
      int digits = 0;
      while (i < cp.length && Character.isDigit(cp[i]) && cp[i] < 128) {
        i++;
        digits++;
      }
      if (digits == 0) {
        return false;
      }
      if (i < cp.length && cp[i] == ',') {
        i++;
        while (i < cp.length && cp[i] >= '0' && cp[i] <= '9') {
          i++;
        }
      }
      return i < cp.length && cp[i] == '}';
    }

    private int[] bound() {
      pos++; // '{'
      int min = number();
      int max = min;
      if (cp[pos] == ',') {
        pos++;
        max = cp[pos] == '}' ? -1 : number();
      }
      pos++; // '}'
      if (max >= 0 && max < min) {
        throw error("the repetition {" + min + "," + max + "} has its bounds reversed");
      }
      return new int[] {min, max};
    }

    private int number() {
      long n = 0;
      int start = pos;
      while (cp[pos] >= '0' && cp[pos] <= '9') {
        n = Math.min(n * 10 + (cp[pos] - '0'), Integer.MAX_VALUE);
        pos++;
      }
      if (n > MAX_REPEAT) {
        pos = start;
        throw error("the repetition bound " + n + " is larger than " + MAX_REPEAT);
      }
      return (int) n;
    }

    private Automaton atom(int end) {
      int c = cp[pos];
      switch (c) {
        case '(':
          return group(end);
        case '[':
          return charClass();
        case '.':
          pos++;
          budget(2);
          return ranges(Ranges.dot());
        case '\\':
          return escapeAtom();
        case '^':
        case '$':
          throw error("the anchor '" + str(c) + "' is only supported at the start (^) or the end"
              + " ($) of the pattern");
        case '*':
        case '+':
        case '?':
          throw error("'" + str(c) + "' has nothing to repeat");
        case '{':
          if (isBound(pos)) {
            throw error("'{' has nothing to repeat");
          }
          // a '{' that opens no bound is a literal, as in ECMAScript without the u flag
          // fall through
        default:
          pos++;
          budget(2);
          return Automata.makeChar(c);
      }
    }

    private Automaton group(int end) {
      int start = pos;
      if (++depth > MAX_NESTING) {
        throw error("groups are nested more than " + MAX_NESTING + " deep");
      }
      pos++;
      if (pos < end && cp[pos] == '?') {
        if (at("?:")) {
          pos += 2;
        } else if (at("?=") || at("?!") || at("?<=") || at("?<!")) {
          pos = start;
          throw error("lookaround assertions ((?=, (?!, (?<=, (?<!) are not supported");
        } else if (at("?<") || at("?P<")) {
          int close = pattern.indexOf('>', offset(pos));
          if (close < 0) {
            throw error("an unterminated group name");
          }
          pos = pattern.codePointCount(0, close) + 1;
        } else {
          pos = start;
          throw error("inline flags and other (? groups are not supported");
        }
      }
      Automaton inner = alternation(end);
      if (pos >= end || cp[pos] != ')') {
        pos = start;
        throw error("unbalanced '('");
      }
      pos++;
      depth--;
      return inner;
    }

    private boolean at(String s) {
      int[] want = s.codePoints().toArray();
      if (pos + want.length > cp.length) {
        return false;
      }
      for (int i = 0; i < want.length; i++) {
        if (cp[pos + i] != want[i]) {
          return false;
        }
      }
      return true;
    }

    private int offset(int codePointIndex) {
      return pattern.offsetByCodePoints(0, codePointIndex);
    }

    private Automaton escapeAtom() {
      Ranges r = new Ranges();
      escape(r, false);
      budget(2);
      return ranges(r);
    }

    /** Reads an escape after {@code pos} (at the backslash) into {@code into}. */
    private void escape(Ranges into, boolean inClass) {
      int start = pos;
      pos++;
      if (pos >= cp.length) {
        pos = start;
        throw error("a trailing backslash");
      }
      int c = cp[pos++];
      switch (c) {
        case 'd':
          into.add('0', '9');
          return;
        case 'D':
          into.addAll(Ranges.digit().complement());
          return;
        case 'w':
          into.addAll(Ranges.word());
          return;
        case 'W':
          into.addAll(Ranges.word().complement());
          return;
        case 's':
          into.addAll(Ranges.space());
          return;
        case 'S':
          into.addAll(Ranges.space().complement());
          return;
        case 'n':
          into.add('\n');
          return;
        case 'r':
          into.add('\r');
          return;
        case 't':
          into.add('\t');
          return;
        case 'f':
          into.add('\f');
          return;
        case 'v':
          into.add(0x0B);
          return;
        case '0':
          into.add(0);
          return;
        case 'x':
          into.add(hex(2, start));
          return;
        case 'u':
          if (pos < cp.length && cp[pos] == '{') {
            pos++;
            int close = pos;
            while (close < cp.length && cp[close] != '}') {
              close++;
            }
            int v = hex(close - pos, start);
            pos++; // '}'
            into.add(v);
            return;
          }
          into.add(hex(4, start));
          return;
        case 'b':
          if (inClass) {
            into.add(0x08); // backspace, as ECMAScript reads [\b]
            return;
          }
          pos = start;
          throw error("word boundaries (\\b, \\B) are not supported");
        case 'B':
          pos = start;
          throw error("word boundaries (\\b, \\B) are not supported");
        case 'p':
        case 'P':
          pos = start;
          throw error("Unicode property escapes (\\p{…}, \\P{…}) are not supported");
        case 'k':
          pos = start;
          throw error("backreferences are not supported");
        default:
          if (c >= '1' && c <= '9') {
            pos = start;
            throw error("backreferences (\\" + str(c) + ") are not supported");
          }
          if (Character.isLetterOrDigit(c)) {
            pos = start;
            throw error("the escape \\" + str(c) + " is not supported");
          }
          into.add(c); // escaped punctuation stands for itself
      }
    }

    private int hex(int digits, int start) {
      if (digits < 1 || digits > 6 || pos + digits > cp.length) {
        pos = start;
        throw error("a malformed hexadecimal escape");
      }
      int v = 0;
      for (int i = 0; i < digits; i++) {
        int d = Character.digit(cp[pos + i], 16);
        if (d < 0) {
          pos = start;
          throw error("a malformed hexadecimal escape");
        }
        v = v * 16 + d;
      }
      pos += digits;
      if (v > MAX_CODE_POINT) {
        pos = start;
        throw error("the escape names U+" + Integer.toHexString(v) + ", past U+10FFFF");
      }
      return v;
    }

    private Automaton charClass() {
      int start = pos;
      pos++;
      boolean negated = pos < cp.length && cp[pos] == '^';
      if (negated) {
        pos++;
      }
      Ranges r = new Ranges();
      boolean first = true;
      while (true) {
        if (pos >= cp.length) {
          pos = start;
          throw error("an unterminated character class");
        }
        int c = cp[pos];
        if (c == ']' && !first) {
          pos++;
          break;
        }
        first = false;
        int lo;
        if (c == '\\') {
          Ranges one = new Ranges();
          escape(one, true);
          if (!one.isSingle()) {
            r.addAll(one); // \d and friends cannot start a range
            continue;
          }
          lo = one.single();
        } else if (c == '[' && pos + 1 < cp.length && cp[pos + 1] == ':') {
          throw error("POSIX classes ([:alpha:]) are not supported");
        } else {
          lo = c;
          pos++;
        }
        if (pos + 1 < cp.length && cp[pos] == '-' && cp[pos + 1] != ']') {
          pos++;
          int hi;
          if (cp[pos] == '\\') {
            Ranges one = new Ranges();
            escape(one, true);
            if (!one.isSingle()) {
              throw error("a class escape cannot end a range");
            }
            hi = one.single();
          } else {
            hi = cp[pos++];
          }
          if (hi < lo) {
            throw error("the range " + str(lo) + "-" + str(hi) + " is out of order");
          }
          r.add(lo, hi);
        } else {
          r.add(lo);
        }
      }
      budget(2);
      return ranges(negated ? r.complement() : r);
    }

    private static Automaton ranges(Ranges r) {
      int[][] spans = r.normalized();
      Automaton a = new Automaton();
      int s = a.createState();
      int t = a.createState();
      a.setAccept(t, true);
      for (int[] span : spans) {
        a.addTransition(s, t, span[0], span[1]);
      }
      a.finishState();
      return a;
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException(what + " (at character " + offset(Math.min(pos,
          cp.length)) + " of the pattern)");
    }

    private static String str(int c) {
      return new String(Character.toChars(c));
    }
  }
}
