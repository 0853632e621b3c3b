package dev.tally.structured.automaton;

import java.util.Arrays;

/**
 * A vocabulary's text tokens as a byte trie laid out in preorder, so that a mask walks each shared
 * prefix once and skips a whole subtree at the first byte the automaton refuses (llguidance's
 * TokTrie layout). Node {@code n} has a byte ({@link #label}), a depth, the end of its subtree
 * ({@link #subtreeEnd}: the next node not below it) and the token ids whose bytes end there.
 * Built once per vocabulary; immutable.
 */
final class TokenTrie {
  private final byte[] label;
  private final int[] depth;
  private final int[] subtreeEnd;
  private final int[] idsStart; // ids of node n: ids[idsStart[n] .. idsStart[n + 1])
  private final int[] ids;
  private final int maxDepth;

  TokenTrie(TokenTable tokens) {
    int size = tokens.size();
    Integer[] order = new Integer[size];
    int textTokens = 0;
    for (int id = 0; id < size; id++) {
      if (tokens.end(id) > tokens.start(id)) {
        order[textTokens++] = id;
      }
    }
    Integer[] sorted = Arrays.copyOf(order, textTokens);
    Arrays.sort(sorted, (a, b) -> compare(tokens, a, b));

    // Nodes: for each token in sorted order, the bytes past its common prefix with the previous.
    int capacity = 1;
    for (int i = 0; i < sorted.length; i++) {
      int len = tokens.end(sorted[i]) - tokens.start(sorted[i]);
      capacity += len - (i == 0 ? 0 : commonPrefix(tokens, sorted[i - 1], sorted[i]));
    }
    byte[] labels = new byte[capacity];
    int[] depths = new int[capacity];
    int[] tokenNode = new int[sorted.length];
    int[] path = new int[64]; // node at each depth along the current token
    int nodes = 1; // node 0: the root (depth 0, no byte)
    int deepest = 0;
    for (int i = 0; i < sorted.length; i++) {
      int id = sorted[i];
      int from = tokens.start(id);
      int len = tokens.end(id) - from;
      int shared = i == 0 ? 0 : commonPrefix(tokens, sorted[i - 1], id);
      if (len + 1 > path.length) {
        path = Arrays.copyOf(path, Math.max(len + 1, 2 * path.length));
      }
      for (int d = shared; d < len; d++) {
        labels[nodes] = tokens.at(from + d);
        depths[nodes] = d + 1;
        path[d + 1] = nodes++;
      }
      tokenNode[i] = len == 0 ? 0 : path[len];
      deepest = Math.max(deepest, len);
    }
    this.label = labels;
    this.depth = depths;
    this.maxDepth = deepest;
    // A subtree ends at the next node no deeper than its root.
    this.subtreeEnd = new int[nodes];
    int[] open = new int[deepest + 2];
    int top = 0;
    for (int n = 0; n < nodes; n++) {
      while (top > 0 && depths[open[top - 1]] >= depths[n]) {
        subtreeEnd[open[--top]] = n;
      }
      open[top++] = n;
    }
    while (top > 0) {
      subtreeEnd[open[--top]] = nodes;
    }
    // Ids per node, in node order (sorted tokens reach their nodes in increasing order).
    this.idsStart = new int[nodes + 1];
    for (int i = 0; i < sorted.length; i++) {
      idsStart[tokenNode[i] + 1]++;
    }
    for (int n = 0; n < nodes; n++) {
      idsStart[n + 1] += idsStart[n];
    }
    this.ids = new int[sorted.length];
    int[] fill = Arrays.copyOf(idsStart, nodes);
    for (int i = 0; i < sorted.length; i++) {
      ids[fill[tokenNode[i]]++] = sorted[i];
    }
  }

  private static int compare(TokenTable t, int a, int b) {
    int i = t.start(a);
    int j = t.start(b);
    int ea = t.end(a);
    int eb = t.end(b);
    while (i < ea && j < eb) {
      int c = Integer.compare(t.at(i) & 0xFF, t.at(j) & 0xFF);
      if (c != 0) {
        return c;
      }
      i++;
      j++;
    }
    int c = Integer.compare(ea - t.start(a), eb - t.start(b));
    return c != 0 ? c : Integer.compare(a, b);
  }

  private static int commonPrefix(TokenTable t, int a, int b) {
    int i = t.start(a);
    int j = t.start(b);
    int n = 0;
    while (i + n < t.end(a) && j + n < t.end(b) && t.at(i + n) == t.at(j + n)) {
      n++;
    }
    return n;
  }

  int nodes() {
    return subtreeEnd.length;
  }

  int label(int node) {
    return label[node] & 0xFF;
  }

  int depth(int node) {
    return depth[node];
  }

  int subtreeEnd(int node) {
    return subtreeEnd[node];
  }

  int maxDepth() {
    return maxDepth;
  }

  /** Sets the bits of the ids that end at {@code node}. */
  void markIds(int node, long[] mask) {
    for (int i = idsStart[node]; i < idsStart[node + 1]; i++) {
      int id = ids[i];
      mask[id >>> 6] |= 1L << id;
    }
  }
}
