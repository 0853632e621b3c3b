package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class ParamsTest {
  private static Params sample() {
    return Params.of(Map.of(
        "flag", true,
        "count", 7L,
        "ratio", 0.25,
        "name", "x",
        "ids", new int[] {3, 1},
        "bias", TokenBias.of(new int[] {2}, new float[] {1f})));
  }

  @Test
  void gettersReturnTheValues() {
    Params p = sample();
    assertThat(p.getBoolean("flag")).isTrue();
    assertThat(p.getLong("count")).isEqualTo(7L);
    assertThat(p.getInt("count")).isEqualTo(7);
    assertThat(p.getDouble("ratio")).isEqualTo(0.25);
    assertThat(p.getDouble("count")).isEqualTo(7.0); // integers widen
    assertThat(p.getString("name")).isEqualTo("x");
    assertThat(p.getIntArray("ids")).containsExactly(3, 1);
    assertThat(p.getTokenBias("bias").tokenId(0)).isEqualTo(2);
    assertThat(p.has("flag")).isTrue();
    assertThat(p.has("nope")).isFalse();
    assertThat(p.names()).containsExactlyInAnyOrder("flag", "count", "ratio", "name", "ids", "bias");
  }

  @Test
  void intArraysAreCopiedOutAndIn() {
    int[] ids = {1, 2};
    Params p = Params.of(Map.of("ids", ids));
    p.getIntArray("ids")[0] = 99;
    assertThat(p.getIntArray("ids")).containsExactly(1, 2);
    ids[1] = 77; // the caller's array is not the parameter's
    assertThat(p.getIntArray("ids")).containsExactly(1, 2);
  }

  @Test
  void tokenSequencesAreDeepCopiedOutAndIn() {
    int[][] sequences = {{1, 2}, {3}};
    Params p = Params.of(Map.of("seqs", sequences));
    p.getTokenSequences("seqs")[0][0] = 99;
    assertThat(p.getTokenSequences("seqs")).isDeepEqualTo(new int[][] {{1, 2}, {3}});
    sequences[1][0] = 77; // neither the outer nor an inner array is shared with the caller
    sequences[0] = new int[] {5};
    assertThat(p.getTokenSequences("seqs")).isDeepEqualTo(new int[][] {{1, 2}, {3}});
    assertThatThrownBy(() -> p.getIntArray("seqs")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Params.of(Map.of("seqs", new int[][] {{1}, null})))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null");
  }

  @Test
  void wrongTypeNamesTheParameterAndBothTypes() {
    Params p = sample();
    assertThatThrownBy(() -> p.getLong("ratio")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ratio").hasMessageContaining("Double").hasMessageContaining("Long");
    assertThatThrownBy(() -> p.getDouble("name")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("String");
    assertThatThrownBy(() -> p.getBoolean("count")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> p.getString("flag")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> p.getIntArray("bias")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> p.getTokenBias("ids")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void missingValueIsAnError() {
    assertThatThrownBy(() -> Params.empty().getLong("k"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k has no value");
    assertThatThrownBy(() -> Params.empty().getDouble("p"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("p has no value");
  }

  @Test
  void getIntRefusesValuesBeyondInt() {
    Params p = Params.of(Map.of("big", 1L << 40));
    assertThatThrownBy(() -> p.getInt("big")).isInstanceOf(ArithmeticException.class);
  }

  @Test
  void ofRefusesUnsupportedValues() {
    assertThatThrownBy(() -> Params.of(Map.of("k", 3))) // Integer, not Long
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("java.lang.Integer");
    assertThatThrownBy(() -> Params.of(Map.of("p", 0.5f)))
        .isInstanceOf(IllegalArgumentException.class);
    Map<String, Object> withNull = new HashMap<>();
    withNull.put("x", null);
    assertThatThrownBy(() -> Params.of(withNull))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null");
  }

  @Test
  void emptyIsShared() {
    assertThat(Params.of(Map.of())).isSameAs(Params.empty());
    assertThat(Params.empty().names()).isEmpty();
  }

  @Test
  void isImmutable() {
    Map<String, Object> m = new HashMap<>();
    m.put("k", 1L);
    Params p = Params.of(m);
    m.put("k", 2L);
    assertThat(p.getLong("k")).isEqualTo(1L);
    assertThatThrownBy(() -> p.asMap().put("z", 1L)).isInstanceOf(UnsupportedOperationException.class);
  }
}
