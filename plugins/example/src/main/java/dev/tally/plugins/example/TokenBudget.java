package dev.tally.plugins.example;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.TokenHistory;
import java.util.Arrays;
import java.util.List;

/**
 * {@code example_token_budget}: lets the output use the given tokens at most {@code max_count}
 * times in all, then bans them (say, at most one "!" per answer).
 *
 * <p>A stateful processor: the count lives in a {@link Budget} per sequence, which the engine
 * feeds every new token through {@link Budget#accept}, so a step costs O(1) instead of a scan of
 * the whole output. {@link #newState} builds the count from a history, which is also what the
 * stateless {@code Sample} RPC does on every call: both RPCs give the same tokens.
 */
final class TokenBudget implements StatefulProcessor<TokenBudget.Budget> {
  static final ProcessorFactory FACTORY = new ProcessorFactory() {
    private final List<ParamSpec> params = List.of(
        ParamSpec.of("token_ids", ParamType.TOKEN_IDS, "The tokens that share the budget.")
            .asRequired(),
        ParamSpec.integer("max_count", "How many of them the output may hold in all.")
            .withDefault(1L).withRange(0, 1_000_000));

    @Override
    public String name() {
      return "example_token_budget";
    }

    @Override
    public String description() {
      return "Example plugin: bans the given tokens once the output holds max_count of them.";
    }

    @Override
    public List<ParamSpec> params() {
      return params;
    }

    @Override
    public LogitsProcessor create(Params p) {
      // The server has checked the schema: token_ids is present and non-negative, max_count in
      // range. What the schema cannot say is checked here; IllegalArgumentException becomes
      // INVALID_ARGUMENT for the client.
      int[] ids = p.getIntArray("token_ids");
      if (ids.length == 0) {
        throw new IllegalArgumentException("token_ids must name at least one token");
      }
      Arrays.sort(ids);
      return new TokenBudget(ids, p.getInt("max_count"));
    }
  };

  private final int[] tokenIds; // sorted
  private final int maxCount;

  TokenBudget(int[] sortedTokenIds, int maxCount) {
    this.tokenIds = sortedTokenIds;
    this.maxCount = maxCount;
  }

  @Override
  public Budget newState(TokenHistory history) {
    int count = 0;
    for (int i = history.promptLength(); i < history.length(); i++) {
      if (counts(history.token(i))) {
        count++;
      }
    }
    return new Budget(count);
  }

  @Override
  public void apply(Candidates candidates, SamplingContext context, Budget budget) {
    if (budget.count < maxCount) {
      return;
    }
    for (int id : tokenIds) {
      if (id < candidates.vocabSize()) {
        candidates.remove(id);
      }
    }
  }

  private boolean counts(int token) {
    return Arrays.binarySearch(tokenIds, token) >= 0;
  }

  /** The per-sequence count. */
  final class Budget implements SequenceState {
    private final int initial;
    private int count;

    Budget(int count) {
      this.initial = count;
      this.count = count;
    }

    int count() {
      return count;
    }

    @Override
    public void accept(int tokenId) {
      if (counts(tokenId)) {
        count++;
      }
    }

    @Override
    public void reset() {
      count = initial;
    }

    @Override
    public Budget copy() {
      Budget b = new Budget(initial);
      b.count = count;
      return b;
    }
  }
}
