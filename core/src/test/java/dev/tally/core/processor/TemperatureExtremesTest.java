package dev.tally.core.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.RowResult;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.testing.Sampling;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Found by PipelineFuzzTest: the temperature processor's parameter is validated as a double > 0
 * but was cast to float, so 4.9e-324 became 0 (0/0 = NaN) and 1e300 became +inf (-inf/+inf =
 * NaN for a masked token).
 */
final class TemperatureExtremesTest {
  @ParameterizedTest
  @ValueSource(doubles = {4.9e-324, 1e-46, 1e-30, 1e39, 1e300})
  void extremeValidTemperaturesGiveNoNaN(double t) {
    SamplingConfig config = new SamplingConfig().processors(List.of(
        new StageSpec("temperature", Map.of("temperature", t))))
        .topLogprobs(3).processedLogprobs(true);
    RowResult r = Sampling.sample(config, 0f, 2f, Float.NEGATIVE_INFINITY, 1f);
    assertThat(r.tokenId()).isIn(0, 1, 3);
    assertThat(Float.isNaN(r.processedLogprob())).isFalse();
    for (float lp : r.topLogprobs()) {
      assertThat(Float.isNaN(lp)).isFalse();
    }
    if (t < 1e-30) {
      assertThat(r.tokenId()).isEqualTo(1); // sharpened to the argmax
    }
  }
}
