package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

final class ParamSpecTest {
  @Test
  void halfOpenRange() {
    ParamSpec p = ParamSpec.number("p", "Mass.").withRange(0, false, 1, true);
    assertThat(p.rangeText()).isEqualTo("(0, 1]");
    assertThat(p.minimum()).isEqualTo(0.0);
    assertThat(p.minimumInclusive()).isFalse();
    assertThat(p.maximum()).isEqualTo(1.0);
    assertThat(p.maximumInclusive()).isTrue();
    assertThat(p.inRange(0)).isFalse();
    assertThat(p.inRange(-0.0)).isFalse();
    assertThat(p.inRange(Double.MIN_VALUE)).isTrue();
    assertThat(p.inRange(1)).isTrue();
    assertThat(p.inRange(Math.nextUp(1.0))).isFalse();
    assertThat(p.inRange(Double.NaN)).isFalse();
  }

  @Test
  void closedRange() {
    ParamSpec p = ParamSpec.number("presence", "Penalty.").withRange(-2, 2);
    assertThat(p.rangeText()).isEqualTo("[-2, 2]");
    assertThat(p.inRange(-2)).isTrue();
    assertThat(p.inRange(2)).isTrue();
    assertThat(p.inRange(Math.nextDown(-2.0))).isFalse();
    assertThat(p.inRange(2.0001)).isFalse();
  }

  @Test
  void openRangeAndInfiniteSides() {
    ParamSpec positive = ParamSpec.number("t", "Temperature.")
        .withRange(0, false, Double.POSITIVE_INFINITY, false);
    assertThat(positive.rangeText()).isEqualTo("(0, +inf)");
    assertThat(positive.maximum()).isNull();
    assertThat(positive.inRange(1e300)).isTrue();
    assertThat(positive.inRange(0)).isFalse();

    ParamSpec below = ParamSpec.number("x", "X.").withRange(Double.NEGATIVE_INFINITY, false, 1, false);
    assertThat(below.rangeText()).isEqualTo("(-inf, 1)");
    assertThat(below.minimum()).isNull();
    assertThat(below.inRange(-1e300)).isTrue();
    assertThat(below.inRange(1)).isFalse();
    assertThat(below.inRange(Math.nextDown(1.0))).isTrue();
  }

  @Test
  void nanIsNeverInRangeWhateverTheBounds() {
    assertThat(ParamSpec.number("a", "A.").inRange(Double.NaN)).isFalse();
    assertThat(ParamSpec.number("a", "A.").withRange(0, true, Double.POSITIVE_INFINITY, false)
        .inRange(Double.NaN)).isFalse();
    assertThat(ParamSpec.number("a", "A.").withRange(Double.NEGATIVE_INFINITY, false, 0, true)
        .inRange(Double.NaN)).isFalse();
  }

  @Test
  void unboundedHasNoRangeText() {
    ParamSpec p = ParamSpec.number("n", "Sigmas.");
    assertThat(p.rangeText()).isEmpty();
    assertThat(p.inRange(-1e308)).isTrue();
    assertThat(p.inRange(1e308)).isTrue();
  }

  @Test
  void rangeTextFormatsFractionsAndLargeIntegers() {
    assertThat(ParamSpec.number("a", "A.").withRange(0.5, 2.25).rangeText()).isEqualTo("[0.5, 2.25]");
    assertThat(ParamSpec.integer("k", "K.").withRange(1, Integer.MAX_VALUE).rangeText())
        .isEqualTo("[1, 2147483647]");
    assertThat(ParamSpec.integer("n", "N.").withRange(-1, 1e15).rangeText())
        .isEqualTo("[-1, 1.0E15]");
  }

  @Test
  void defaultsAndRequiredExcludeEachOther() {
    ParamSpec p = ParamSpec.integer("k", "K.").withRange(1, 10);
    assertThat(p.required()).isFalse();
    assertThat(p.defaultValue()).isNull();

    ParamSpec required = p.asRequired();
    assertThat(required.required()).isTrue();
    assertThat(required.rangeText()).isEqualTo("[1, 10]");

    ParamSpec defaulted = required.withDefault(5L);
    assertThat(defaulted.required()).isFalse();
    assertThat(defaulted.defaultValue()).isEqualTo(5L);
    assertThat(defaulted.asRequired().defaultValue()).isNull();
    assertThatThrownBy(() -> p.withDefault(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void factoriesSetTheType() {
    assertThat(ParamSpec.number("a", "A.").type()).isEqualTo(ParamType.NUMBER);
    assertThat(ParamSpec.integer("a", "A.").type()).isEqualTo(ParamType.INTEGER);
    assertThat(ParamSpec.bool("a", "A.").type()).isEqualTo(ParamType.BOOLEAN);
    assertThat(ParamSpec.string("a", "A.").type()).isEqualTo(ParamType.STRING);
    assertThat(ParamSpec.of("ids", ParamType.TOKEN_IDS, "Ids.").toString()).isEqualTo("ids:token_ids");
    assertThat(ParamType.TOKEN_BIAS.wireName()).isEqualTo("token_bias");
    assertThat(ParamType.INTEGER_LIST.wireName()).isEqualTo("integer_list");
  }

  @Test
  void allowedValuesAreKept() {
    ParamSpec p = ParamSpec.string("mode", "Mode.").withAllowedValues("a", "b");
    assertThat(p.allowedValues()).containsExactly("a", "b");
    assertThat(p.withRange(0, 1).allowedValues()).containsExactly("a", "b");
    assertThat(ParamSpec.string("mode", "Mode.").allowedValues()).isEmpty();
  }

  @Test
  void refusesBadNamesAndDescriptions() {
    for (String bad : new String[] {"", "Top", "1a", "a-b", "_a", "a b", "é"}) {
      assertThatThrownBy(() -> ParamSpec.number(bad, "D."))
          .as("name '%s'", bad).isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> ParamSpec.number(null, "D.")).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> ParamSpec.number("a", " ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ParamSpec.of("a", null, "D.")).isInstanceOf(NullPointerException.class);
    assertThat(ParamSpec.number("a_1", "D.").name()).isEqualTo("a_1");
  }
}
