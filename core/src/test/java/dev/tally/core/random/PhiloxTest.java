package dev.tally.core.random;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

final class PhiloxTest {
  /**
   * Known answers for Philox4x32-10 from Random123's {@code tests/kat_vectors} (the three
   * "philox4x32 10" lines: counter words 0-3, key words 0-1, expected output words 0-3), as
   * cut-and-pasted by D. E. Shaw Research into their Boost port: repository
   * DEShawResearch/Random123-Boost, file libs/random/test/test_philox.cpp (commit 916db91a),
   * test_kat_philox4x32. The same three lines appear verbatim in many independent ports.
   */
  private static final int[][] KAT = {
      {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
          0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };

  @Test
  void knownAnswerVectors() {
    for (int[] v : KAT) {
      int[] out = {1, 2, 3, 4};
      Philox.block(v[0], v[1], v[2], v[3], v[4], v[5], out);
      assertThat(out).as("counter %08x %08x %08x %08x key %08x %08x", v[0], v[1], v[2], v[3],
          v[4], v[5]).containsExactly(v[6], v[7], v[8], v[9]);
    }
  }

  @Test
  void everyInputWordMatters() {
    int[] base = new int[4];
    Philox.block(0, 0, 0, 0, 0, 0, base);
    for (int word = 0; word < 6; word++) {
      int[] in = new int[6];
      in[word] = 1;
      int[] out = new int[4];
      Philox.block(in[0], in[1], in[2], in[3], in[4], in[5], out);
      assertThat(out).as("flipping input word %d", word).isNotEqualTo(base);
    }
  }
}
