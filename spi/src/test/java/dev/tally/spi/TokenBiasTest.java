package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

final class TokenBiasTest {
  @Test
  void sortsByTokenIdAndKeepsEachBiasWithItsId() {
    int[] ids = {7, 2, 100000, 0, 5};
    float[] biases = {-1.5f, 3f, Float.NEGATIVE_INFINITY, -0.0f, 0.25f};
    TokenBias b = TokenBias.of(ids, biases);
    assertThat(b.size()).isEqualTo(5);
    int[] gotIds = new int[5];
    float[] gotBiases = new float[5];
    for (int i = 0; i < 5; i++) {
      gotIds[i] = b.tokenId(i);
      gotBiases[i] = b.bias(i);
    }
    assertThat(gotIds).containsExactly(0, 2, 5, 7, 100000);
    assertThat(gotBiases).containsExactly(-0.0f, 3f, 0.25f, -1.5f, Float.NEGATIVE_INFINITY);
    assertThat(Float.floatToRawIntBits(b.bias(0))).isEqualTo(0x80000000); // -0.0 survives
  }

  @Test
  void copiesItsInput() {
    int[] ids = {3, 1};
    float[] biases = {1f, 2f};
    TokenBias b = TokenBias.of(ids, biases);
    ids[0] = 9;
    biases[1] = 9f;
    assertThat(b.tokenId(0)).isEqualTo(1);
    assertThat(b.bias(0)).isEqualTo(2f);
    assertThat(b.tokenId(1)).isEqualTo(3);
  }

  @Test
  void negativeIdsSortFirst() {
    // TokenBias itself does not police ids; the binder does. The order must still be numeric.
    TokenBias b = TokenBias.of(new int[] {5, -3, Integer.MAX_VALUE, Integer.MIN_VALUE},
        new float[] {1f, 2f, 3f, 4f});
    assertThat(new int[] {b.tokenId(0), b.tokenId(1), b.tokenId(2), b.tokenId(3)})
        .containsExactly(Integer.MIN_VALUE, -3, 5, Integer.MAX_VALUE);
    assertThat(new float[] {b.bias(0), b.bias(1), b.bias(2), b.bias(3)})
        .containsExactly(4f, 2f, 1f, 3f);
  }

  @Test
  void refusesARepeatedId() {
    assertThatThrownBy(() -> TokenBias.of(new int[] {4, 1, 4}, new float[] {1f, 2f, 1f}))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4");
    assertThatThrownBy(() -> TokenBias.of(new int[] {4, 4}, new float[] {1f, -1f}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesArraysOfDifferentLength() {
    assertThatThrownBy(() -> TokenBias.of(new int[] {1, 2}, new float[] {1f}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void emptyHasNoEntries() {
    assertThat(TokenBias.empty().size()).isZero();
    assertThat(TokenBias.of(new int[0], new float[0]).size()).isZero();
  }
}
