package dev.tally.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.Sampling;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Jazzer fuzz target: arbitrary logits (any dtype, any bit pattern), arbitrary parameters, an
 * arbitrary processor chain by name with arbitrary params, through compile and sample. Nothing
 * may escape but {@link TallyException} from validation, a chosen token is in range, and a row
 * failure has a documented code.
 *
 * <p>{@code ./mvnw verify} fuzzes it for its {@code maxDuration} (the {@code fuzz-pipeline}
 * execution), starting from the inputs under
 * {@code src/test/resources/dev/tally/core/fuzz/PipelineFuzzTestInputs/}; with {@code -Dtest} it
 * runs only those inputs plus an empty one. {@code docs/fuzzing.md} says how to run a longer
 * campaign.
 */
final class PipelineFuzzTest {
  private static final String[] NAMES = {"temperature", "top_k", "top_p", "min_p", "typical_p",
      "top_n_sigma", "xtc", "dry", "mirostat", "greedy", "sample", "logit_bias", "no_repeat_ngram",
      "dynamic_temperature", "repetition_penalty", "nope", ""};
  private static final String[] KEYS = {"k", "p", "t", "temperature", "min_p", "threshold",
      "probability", "n", "tau", "eta", "multiplier", "base", "allowed_length", "x"};

  private static String describe(SamplingConfig c) {
    StringBuilder b = new StringBuilder();
    for (java.lang.reflect.Field f : SamplingConfig.class.getDeclaredFields()) {
      if (java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
        continue;
      }
      f.setAccessible(true);
      try {
        Object v = f.get(c);
        String text = v instanceof int[] a ? java.util.Arrays.toString(a) : String.valueOf(v);
        if (v instanceof List<?> list) {
          StringBuilder l = new StringBuilder("[");
          for (Object o : list) {
            StageSpec st = (StageSpec) o;
            l.append(st.name()).append(st.params()).append(' ');
          }
          text = l.append(']').toString();
        }
        b.append(f.getName()).append('=').append(text).append(' ');
      } catch (IllegalAccessException e) {
        b.append(f.getName()).append("=? ");
      }
    }
    return b.toString();
  }

  @FuzzTest(maxDuration = "20s")
  void pipeline(FuzzedDataProvider data) {
    SamplingConfig config = new SamplingConfig();
    if (data.consumeBoolean()) {
      config.temperature(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      config.topK(data.consumeInt());
    }
    if (data.consumeBoolean()) {
      config.topP(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      config.minP(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      config.repetitionPenalty(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      config.presencePenalty(data.consumeFloat()).frequencyPenalty(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      config.penaltyLastN(data.consumeInt());
    }
    if (data.consumeBoolean()) {
      config.bannedTokenIds(data.consumeInts(4));
    }
    if (data.consumeBoolean()) {
      config.allowedTokenIds(data.consumeInts(4));
    }
    if (data.consumeBoolean()) {
      config.minTokens(data.consumeLong()).eosTokenIds(data.consumeInts(2));
    }
    config.topLogprobs(data.consumeInt(0, 80)).processedLogprobs(data.consumeBoolean())
        .temperatureLast(data.consumeBoolean()).explain(data.consumeBoolean());
    int stages = data.consumeInt(0, 3);
    if (stages > 0) {
      List<StageSpec> chain = new ArrayList<>();
      for (int i = 0; i < stages; i++) {
        Map<String, Object> params = new LinkedHashMap<>();
        int n = data.consumeInt(0, 3);
        for (int j = 0; j < n; j++) {
          String key = data.pickValue(KEYS);
          switch (data.consumeInt(0, 4)) {
            case 0 -> params.put(key, data.consumeDouble());
            case 1 -> params.put(key, (double) data.consumeInt(-5, 100));
            case 2 -> params.put(key, data.consumeString(8));
            case 3 -> params.put(key, data.consumeBoolean());
            default -> params.put(key, List.of(data.consumeDouble()));
          }
        }
        chain.add(new StageSpec(data.pickValue(NAMES), params));
      }
      if (data.consumeBoolean()) {
        config.pipeline(chain);
      } else {
        config.processors(chain);
      }
    }
    if (data.consumeBoolean()) {
      config.seed(data.consumeLong());
    }
    Chain chain;
    try {
      chain = Sampling.compile(config);
    } catch (TallyException refused) {
      return; // validation: the documented outcome for a bad request
    }
    DType dtype = data.pickValue(DType.values());
    int vocab = data.consumeInt(1, 300);
    int rows = data.consumeInt(1, 3);
    byte[] bytes = data.consumeBytes(rows * vocab * dtype.bytes());
    if (bytes.length != rows * vocab * dtype.bytes()) {
      bytes = java.util.Arrays.copyOf(bytes, rows * vocab * dtype.bytes());
    }
    LogitsTensor logits = LogitsTensor.of(dtype, rows, vocab,
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
    int[] prompt = data.consumeInts(6);
    TokenLog history;
    try {
      history = TokenLog.of(prompt, data.consumeInts(6));
    } catch (IllegalArgumentException negative) {
      history = TokenLog.empty();
    }
    RowSampler sampler = new RowSampler();
    for (int row = 0; row < rows; row++) {
      RowResult r = sampler.sample(logits, row, chain, history, data.consumeLong());
      if (r.failed()) {
        ErrorCode code = r.error().code();
        if (code == ErrorCode.INTERNAL) {
          throw new AssertionError("internal error on a row", r.error());
        }
      } else if (r.tokenId() < 0 || r.tokenId() >= vocab) {
        throw new AssertionError("token " + r.tokenId() + " outside vocab " + vocab);
      } else if (Float.isNaN(r.logprob()) || Float.isNaN(r.processedLogprob())) {
        float[] decoded = new float[vocab];
        logits.decodeRow(row, decoded);
        throw new AssertionError("NaN logprob for token " + r.tokenId() + ": logprob "
            + r.logprob() + ", processed " + r.processedLogprob() + ", dtype " + dtype
            + ", row " + java.util.Arrays.toString(decoded) + ", config " + describe(config));
      }
    }
  }
}
