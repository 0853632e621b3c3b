package dev.tally.core.properties;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.session.SequenceSpec;
import dev.tally.core.session.SessionState;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.Sampling;
import java.util.List;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Properties of the sampling engine (issue 8), checked over seeded random cases: for random logits
 * and random valid parameters, the token is in range and among the survivors, the processed
 * distribution is finite and sums to 1, the raw logprob and rank match a double-precision
 * log-softmax, and the Session path agrees with the Sample path. For arbitrary, mostly invalid
 * input, nothing but {@link TallyException} escapes. Every failure names its case seed, which
 * replays it.
 */
final class EnginePropertiesTest {
  private static final int CASES = 400;

  /** Logits and settings for one row. */
  record Row(float[] logits, SamplingConfig config, int[] prompt, int[] output, long seed) {}

  private static Float maybe(Random r, double pNull, float value) {
    return r.nextDouble() < pNull ? null : value;
  }

  private static float between(Random r, float lo, float hi) {
    return lo + r.nextFloat() * (hi - lo);
  }

  private static int[] tokens(Random r, int vocab, int maxSize) {
    int[] t = new int[r.nextInt(maxSize + 1)];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }

  /** A valid row: finite logits with ties and masked tokens, valid settings. */
  static Row row(long caseSeed) {
    Random r = new Random(caseSeed);
    int vocab = 1 + r.nextInt(64);
    float[] logits = new float[vocab];
    boolean finite = false;
    for (int i = 0; i < vocab; i++) {
      int kind = r.nextInt(24);
      logits[i] = kind < 20 ? between(r, -30f, 30f) : kind < 22 ? Float.NEGATIVE_INFINITY
          : new float[] {0f, 1f, -1f}[r.nextInt(3)];
      finite |= logits[i] != Float.NEGATIVE_INFINITY;
    }
    if (!finite) {
      logits[r.nextInt(vocab)] = 0f;
    }
    int t = r.nextInt(3);
    SamplingConfig config = new SamplingConfig()
        .temperature(t == 0 ? null : t == 1 ? 0f : between(r, 0.05f, 3f))
        .topK(r.nextDouble() < 0.4 ? null : 1 + r.nextInt(vocab + 3))
        .topP(maybe(r, 0.5, between(r, 0.01f, 1f)))
        .minP(maybe(r, 0.6, r.nextFloat()))
        .repetitionPenalty(maybe(r, 0.6, between(r, 0.5f, 2f)))
        .frequencyPenalty(maybe(r, 0.6, between(r, -2f, 2f)))
        .bannedTokenIds(tokens(r, vocab, 3))
        .temperatureLast(r.nextBoolean());
    return new Row(logits, config, tokens(r, vocab, 6), tokens(r, vocab, 6), r.nextLong());
  }

  private static RowResult run(Row row) {
    Chain chain = Sampling.compile(row.config());
    return new RowSampler().sample(LogitsTensor.ofFloats(1, row.logits().length, row.logits()),
        0, chain, TokenLog.of(row.prompt(), row.output()), row.seed());
  }

  @Test
  void tokenInRangeAmongSurvivorsAndLogprobsConsistent() {
    for (long c = 0; c < CASES; c++) {
      Row row = row(c);
      int vocab = row.logits().length;
      row.config().topLogprobs(Math.min(vocab, Sampling.MAX_TOP_LOGPROBS)).processedLogprobs(true);
      RowResult r = run(row);
      if (r.failed()) {
        // Bans and truncation may leave nothing: the only allowed row failure here.
        assertThat(r.error().code()).as("case %d: %s", c, r.error().getMessage())
            .isEqualTo(ErrorCode.NO_CANDIDATES);
        continue;
      }
      int token = r.tokenId();
      assertThat(token).as("case %d", c).isBetween(0, vocab - 1);
      assertThat(row.logits()[token]).as("case %d", c).isNotEqualTo(Float.NEGATIVE_INFINITY);
      // processed top_logprobs with N = vocab lists exactly the survivors (greedy: the token)
      assertThat(r.topIds()).as("case %d", c).contains(token);
      double sum = 0;
      for (float lp : r.topLogprobs()) {
        assertThat(Float.isFinite(lp)).as("case %d: processed logprob %s finite", c, lp).isTrue();
        assertThat(lp).as("case %d", c).isLessThanOrEqualTo(1e-5f);
        sum += Math.exp(lp);
      }
      assertThat(sum).as("case %d: processed probabilities sum", c).isCloseTo(1.0,
          Offset.offset(1e-4));
      assertThat(Float.isFinite(r.processedLogprob())).as("case %d", c).isTrue();
      double[] x = new double[vocab];
      for (int i = 0; i < vocab; i++) {
        x[i] = row.logits()[i];
      }
      double expected = Sampling.logSoftmax(x)[token];
      assertThat((double) r.logprob()).as("case %d: raw logprob", c).isCloseTo(expected,
          Offset.offset(1e-4 + Math.abs(expected) * 1e-5));
      int rank = 0;
      for (float v : row.logits()) {
        rank += v >= row.logits()[token] ? 1 : 0;
      }
      assertThat(r.rank()).as("case %d: rank", c).isEqualTo(rank);
    }
  }

  /**
   * With raw top-N the rank is read off the top list when it can be: it must still equal the count
   * of tokens at or above the chosen one, ties at the list's edge included.
   */
  @Test
  void rawRankEqualsTheCountOfTokensAtOrAboveTheChosenOne() {
    for (long c = 0; c < CASES; c++) {
      Row row = row(c);
      int vocab = row.logits().length;
      row.config().topLogprobs(1 + (int) (c % 8)).processedLogprobs(false);
      RowResult r = run(row);
      if (r.failed()) {
        continue;
      }
      int rank = 0;
      for (float v : row.logits()) {
        rank += v >= row.logits()[r.tokenId()] ? 1 : 0;
      }
      assertThat(r.rank()).as("case %d: rank", c).isEqualTo(rank);
      assertThat(r.topIds().length).as("case %d", c).isLessThanOrEqualTo(vocab);
    }
  }

  @Test
  void sessionAgreesWithSample() {
    for (long c = 0; c < CASES; c++) {
      Row row = row(1_000_000 + c);
      row.config().seed(row.seed());
      RowResult sample = run(row);
      SessionState state = new SessionState(Sampling.compiler(), 4, () -> 0L);
      SessionState.Sequence s = state.apply(List.of(new SequenceSpec(5, row.config(),
          row.prompt(), row.output())), new long[0], List.of(), new long[] {5}, 1)[0];
      RowResult session = new RowSampler().sample(
          LogitsTensor.ofFloats(1, row.logits().length, row.logits()), 0, s.chain(), s.history(),
          s.seed());
      assertThat(session.failed()).as("case %d", c).isEqualTo(sample.failed());
      assertThat(session.tokenId()).as("case %d", c).isEqualTo(sample.tokenId());
      assertThat(session.logprob()).as("case %d", c).isEqualTo(sample.logprob());
    }
  }

  private static final float[] SPECIAL = {Float.NaN, Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY, -0f, Float.MIN_VALUE, Float.MAX_VALUE};

  private static float anyFloat(Random r) {
    return r.nextInt(6) == 0 ? SPECIAL[r.nextInt(SPECIAL.length)]
        : Float.intBitsToFloat(r.nextInt());
  }

  private static Integer anyInt(Random r) {
    return r.nextBoolean() ? r.nextInt() : -2 + r.nextInt(43);
  }

  /** Anything at all: NaN, infinities, out-of-range params and token ids. */
  @Test
  void nothingButTallyExceptionEscapes() {
    for (long c = 0; c < CASES; c++) {
      Random r = new Random(2_000_000 + c);
      float[] logits = new float[1 + r.nextInt(40)];
      for (int i = 0; i < logits.length; i++) {
        logits[i] = anyFloat(r);
      }
      int[] ids = new int[r.nextInt(5)];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = anyInt(r);
      }
      SamplingConfig config = new SamplingConfig()
          .temperature(r.nextBoolean() ? null : anyFloat(r))
          .topK(r.nextBoolean() ? null : anyInt(r))
          .topP(r.nextBoolean() ? null : anyFloat(r))
          .minP(r.nextBoolean() ? null : anyFloat(r))
          .repetitionPenalty(r.nextBoolean() ? null : anyFloat(r))
          .bannedTokenIds(ids)
          .allowedTokenIds(ids.length > 2 ? ids : new int[0]);
      Chain chain;
      try {
        chain = Sampling.compile(config);
      } catch (TallyException refused) {
        continue; // a documented validation error
      }
      TokenLog history;
      try {
        history = TokenLog.of(ids, new int[0]);
      } catch (IllegalArgumentException negative) {
        history = TokenLog.empty(); // the server maps this to INVALID_PARAMS before sampling
      }
      RowResult result = new RowSampler().sample(
          LogitsTensor.ofFloats(1, logits.length, logits), 0, chain, history, r.nextLong());
      if (!result.failed()) {
        assertThat(result.tokenId()).as("case %d", c).isBetween(0, logits.length - 1);
      } else {
        assertThat(result.error().code()).as("case %d", c).isIn(ErrorCode.INVALID_LOGITS,
            ErrorCode.NO_CANDIDATES, ErrorCode.INVALID_PARAMS);
      }
    }
  }
}
