package dev.tally.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.testing.Sampling;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

final class SessionStateTest {
  private final AtomicLong nextSeed = new AtomicLong(1000);
  private final SessionState state = new SessionState(Sampling.compiler(), 4,
      nextSeed::getAndIncrement);

  private static SequenceSpec seq(long id, int... prompt) {
    return new SequenceSpec(id, new SamplingConfig(), prompt, new int[0]);
  }

  private static SequenceSpec seq(long id, SamplingConfig config) {
    return new SequenceSpec(id, config, new int[] {1}, new int[0]);
  }

  private static final long[] NONE = new long[0];

  private SessionState.Sequence[] step(List<SequenceSpec> added, long[] removed,
      List<AppendedTokens> appended, long[] rows) {
    return state.apply(added, removed, appended, rows, rows.length);
  }

  private static int[] tokens(SessionState.Sequence s) {
    int[] out = new int[s.history().length()];
    for (int i = 0; i < out.length; i++) {
      out[i] = s.history().token(i);
    }
    return out;
  }

  private TallyException refused(List<SequenceSpec> added, long[] removed,
      List<AppendedTokens> appended, long[] rows, int rowCount) {
    try {
      state.apply(added, removed, appended, rows, rowCount);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the step to be refused");
  }

  /** Registry snapshot: ids 1..9 → history length (or -1 when absent). */
  private int[] snapshot() {
    int[] out = new int[10];
    for (int id = 0; id < 10; id++) {
      SessionState.Sequence s = state.get(id);
      out[id] = s == null ? -1 : s.history().length();
    }
    return out;
  }

  private void assertRefusedUnchanged(List<SequenceSpec> added, long[] removed,
      List<AppendedTokens> appended, long[] rows, int rowCount, ErrorCode code, String field) {
    int[] before = snapshot();
    int size = state.size();
    TallyException e = refused(added, removed, appended, rows, rowCount);
    assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
    assertThat(e.field()).as(e.getMessage()).isEqualTo(field);
    assertThat(snapshot()).as("registry unchanged").containsExactly(before);
    assertThat(state.size()).isEqualTo(size);
  }

  @Test
  void addAppendRemoveAndRowMap() {
    SessionState.Sequence[] rows = step(List.of(seq(1, 10, 11), seq(2, 20)), NONE, List.of(),
        new long[] {2, 1});
    assertThat(rows).extracting(SessionState.Sequence::id).containsExactly(2L, 1L);
    assertThat(state.size()).isEqualTo(2);
    assertThat(tokens(state.get(1))).containsExactly(10, 11);
    assertThat(state.get(1).history().promptLength()).isEqualTo(2);

    rows = step(List.of(), NONE, List.of(new AppendedTokens(1, new int[] {5, 6})), new long[] {1});
    assertThat(rows[0]).isSameAs(state.get(1));
    assertThat(tokens(state.get(1))).containsExactly(10, 11, 5, 6);
    assertThat(state.get(1).history().outputLength()).isEqualTo(2);

    rows = step(List.of(), new long[] {2}, List.of(), new long[0]);
    assertThat(rows).isEmpty();
    assertThat(state.get(2)).isNull();
    assertThat(state.size()).isEqualTo(1);

    state.clear();
    assertThat(state.size()).isZero();
  }

  @Test
  void aStepMayAddAppendToAndSampleANewSequence() {
    SessionState.Sequence[] rows = step(List.of(seq(7, 1)), NONE,
        List.of(new AppendedTokens(7, new int[] {9})), new long[] {7});
    assertThat(tokens(rows[0])).containsExactly(1, 9);
    // Added and removed in one step: gone afterwards, and not sampleable in that step.
    step(List.of(seq(8, 1)), new long[] {8}, List.of(), new long[0]);
    assertThat(state.get(8)).isNull();
  }

  @Test
  void seedComesFromTheParamsOrElseFromTheSupplier() {
    step(List.of(seq(1, new SamplingConfig().seed(42L)), seq(2, new SamplingConfig()),
        seq(3, new SamplingConfig())), NONE, List.of(), new long[0]);
    assertThat(state.get(1).seed()).isEqualTo(42L);
    assertThat(state.get(2).seed()).isEqualTo(1000L);
    assertThat(state.get(3).seed()).isEqualTo(1001L);
    assertThat(nextSeed.get()).isEqualTo(1002L); // the supplier was asked only for unset seeds
  }

  @Test
  void sequencesCompileTheirChains() {
    step(List.of(seq(1, new SamplingConfig().topK(3).temperature(0.5f))), NONE, List.of(),
        new long[0]);
    assertThat(state.get(1).chain().processors()).extracting(s -> s.name())
        .containsExactly("temperature", "top_k");
  }

  @Test
  void duplicateAdd() {
    step(List.of(seq(1, 1)), NONE, List.of(), new long[0]);
    assertRefusedUnchanged(List.of(seq(2, 1), seq(1, 1)), NONE, List.of(), new long[0], 0,
        ErrorCode.DUPLICATE_SEQUENCE, "added[1].id");
    assertRefusedUnchanged(List.of(seq(3, 1), seq(3, 1)), NONE, List.of(), new long[0], 0,
        ErrorCode.DUPLICATE_SEQUENCE, "added[1].id");
  }

  @Test
  void removeUnknown() {
    step(List.of(seq(1, 1)), NONE, List.of(), new long[0]);
    assertRefusedUnchanged(List.of(seq(2, 1)), new long[] {9}, List.of(), new long[0], 0,
        ErrorCode.UNKNOWN_SEQUENCE, "removed[0]");
    assertRefusedUnchanged(List.of(), new long[] {1, 1}, List.of(), new long[0], 0,
        ErrorCode.UNKNOWN_SEQUENCE, "removed[1]");
  }

  @Test
  void appendUnknown() {
    step(List.of(seq(1, 1)), NONE, List.of(), new long[0]);
    assertRefusedUnchanged(List.of(), NONE, List.of(new AppendedTokens(1, new int[] {4}),
        new AppendedTokens(5, new int[] {4})), new long[0], 0, ErrorCode.UNKNOWN_SEQUENCE,
        "appended[1].sequence_id");
    // Removed earlier in the same step: unknown by the time tokens are appended.
    assertRefusedUnchanged(List.of(), new long[] {1}, List.of(new AppendedTokens(1,
        new int[] {4})), new long[0], 0, ErrorCode.UNKNOWN_SEQUENCE, "appended[0].sequence_id");
    assertRefusedUnchanged(List.of(), NONE, List.of(new AppendedTokens(1, new int[] {4, -1})),
        new long[0], 0, ErrorCode.INVALID_PARAMS, "appended[0].token_ids");
  }

  @Test
  void rowMapMustMatchTheRows() {
    step(List.of(seq(1, 1), seq(2, 1)), NONE, List.of(), new long[0]);
    // Earlier parts of the step are valid; none of them may stick.
    List<SequenceSpec> add = List.of(seq(3, 1));
    long[] remove = {2};
    List<AppendedTokens> append = List.of(new AppendedTokens(1, new int[] {8}));
    assertRefusedUnchanged(add, remove, append, new long[] {1, 3}, 3, ErrorCode.INVALID_TENSOR,
        "row_sequence_ids");
    assertRefusedUnchanged(add, remove, append, new long[] {1, 3, 1}, 3, ErrorCode.INVALID_PARAMS,
        "row_sequence_ids[2]");
    assertRefusedUnchanged(add, remove, append, new long[] {1, 2}, 2, ErrorCode.UNKNOWN_SEQUENCE,
        "row_sequence_ids[1]");
    assertRefusedUnchanged(add, remove, append, new long[] {4}, 1, ErrorCode.UNKNOWN_SEQUENCE,
        "row_sequence_ids[0]");
    // The same step with a good row map goes through, exactly once.
    SessionState.Sequence[] rows = state.apply(add, remove, append, new long[] {3, 1}, 2);
    assertThat(rows).extracting(SessionState.Sequence::id).containsExactly(3L, 1L);
    assertThat(tokens(state.get(1))).containsExactly(1, 8);
    assertThat(state.get(2)).isNull();
  }

  @Test
  void sequenceLimit() {
    step(List.of(seq(1, 1), seq(2, 1), seq(3, 1)), NONE, List.of(), new long[0]);
    assertRefusedUnchanged(List.of(seq(4, 1), seq(5, 1)), NONE, List.of(), new long[0], 0,
        ErrorCode.LIMIT_EXCEEDED, "added");
    // Removing in the same step makes room.
    step(List.of(seq(4, 1), seq(5, 1)), new long[] {1}, List.of(), new long[0]);
    assertThat(state.size()).isEqualTo(4);
  }

  @Test
  void badParamsOrHistoryOfAnAddedSequence() {
    assertRefusedUnchanged(List.of(seq(1, 1), seq(2, new SamplingConfig().topP(0f))), NONE,
        List.of(), new long[0], 0, ErrorCode.INVALID_PARAMS, "added[1].params.top_p");
    assertRefusedUnchanged(List.of(seq(1, 1), seq(2, 3, -4)), NONE, List.of(), new long[0], 0,
        ErrorCode.INVALID_PARAMS, "added[1]");
    assertThat(nextSeed.get()).isEqualTo(1000L + 2); // seeds drawn for the valid added[0] only
  }

  @Test
  void unsignedIdsAreDistinct() {
    step(List.of(seq(-1L, 1), seq(Long.MAX_VALUE, 2)), NONE, List.of(), new long[0]);
    assertThat(state.get(-1L).history().token(0)).isEqualTo(1);
    TallyException e = refused(List.of(), new long[] {-2L}, List.of(), new long[0], 0);
    assertThat(e.getMessage()).contains("18446744073709551614");
  }

  private static ForkSpec fork(long parent, long child, int... append) {
    return new ForkSpec(parent, child, null, null, append);
  }

  private TallyException refusedFork(List<SequenceSpec> added, List<ForkSpec> forks,
      long[] removed, long[] rows) {
    int[] before = snapshot();
    try {
      state.begin(added, forks, removed, List.of(), rows, rows.length);
    } catch (TallyException e) {
      assertThat(snapshot()).as("registry unchanged").containsExactly(before);
      return e;
    }
    throw new AssertionError("expected the step to be refused");
  }

  @Test
  void forksCopyTheParentAfterAddedAndBeforeRemovedAndAppended() {
    state.apply(List.of(seq(1, new SamplingConfig().seed(42L))), NONE, List.of(), NONE, 0);
    state.get(1).history().append(5);
    state.get(1).addLogprob(-1.5f);
    // Fork 1 twice (one child forked again), drop the parent, append to it: the children see
    // neither; one child is sampled in the same step.
    SessionState.Sequence[] rows = state.begin(List.of(),
        List.of(fork(1, 2, 7), new ForkSpec(1, 3, 99L, null, new int[0]),
            new ForkSpec(2, 4, null, 3L, new int[] {8})),
        new long[] {1}, List.of(), new long[] {4}, 1).rows();
    assertThat(state.get(1)).isNull();
    assertThat(tokens(state.get(2))).containsExactly(1, 5, 7);
    assertThat(tokens(state.get(3))).containsExactly(1, 5);
    assertThat(tokens(state.get(4))).containsExactly(1, 5, 7, 8);
    assertThat(rows[0]).isSameAs(state.get(4));
    assertThat(state.get(2).seed()).isEqualTo(42L);
    assertThat(state.get(3).seed()).isEqualTo(99L);
    assertThat(state.get(4).seed()).isEqualTo(dev.tally.core.random.CounterRandom.deriveSeed(42, 3));
    assertThat(state.get(2).history().promptLength()).isEqualTo(1);
    assertThat(state.get(4).addLogprob(-0.25f)).isEqualTo(-1.75);
    assertThat(state.get(2).addLogprob(0f)).as("independent sums").isEqualTo(-1.5);
  }

  @Test
  void badForksAreRefusedNamingTheFieldAndChangeNothing() {
    state.apply(List.of(seq(1, 1), seq(2, 1)), NONE, List.of(), NONE, 0);
    TallyException e = refusedFork(List.of(), List.of(fork(9, 5)), NONE, NONE);
    assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_SEQUENCE);
    assertThat(e.field()).isEqualTo("forks[0].parent_id");
    assertThat(e.getMessage()).isEqualTo("forks[0]: sequence 9 is not registered");
    e = refusedFork(List.of(), List.of(fork(1, 5), fork(1, 2)), NONE, NONE);
    assertThat(e.code()).isEqualTo(ErrorCode.DUPLICATE_SEQUENCE);
    assertThat(e.field()).isEqualTo("forks[1].child_id");
    e = refusedFork(List.of(), List.of(fork(1, 5), fork(1, 5)), NONE, NONE);
    assertThat(e.field()).isEqualTo("forks[1].child_id");
    e = refusedFork(List.of(), List.of(fork(1, 5, 3, -2)), NONE, NONE);
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(e.field()).isEqualTo("forks[0].append_token_ids");
    // The session's limit (4) counts children; a later error still drops the copies.
    e = refusedFork(List.of(), List.of(fork(1, 5), fork(1, 6), fork(1, 7)), NONE, NONE);
    assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
    e = refusedFork(List.of(), List.of(fork(1, 5)), new long[] {8}, NONE);
    assertThat(e.field()).isEqualTo("removed[0]");
    assertThat(state.get(5)).isNull();
  }

  @Test
  void aForkedChildIsRolledBackWithItsStep() {
    state.apply(List.of(seq(1, 1)), NONE, List.of(), NONE, 0);
    SessionState.Step step = state.begin(List.of(), List.of(fork(1, 2, 4)), new long[] {1},
        List.of(), new long[] {2}, 1);
    step.rollback();
    assertThat(state.get(2)).isNull();
    assertThat(tokens(state.get(1))).containsExactly(1);
  }

  @Test
  void aStepMayForkAtMostTheLimit() {
    SessionState small = new SessionState(Sampling.compiler(), 10, 2, nextSeed::getAndIncrement);
    small.apply(List.of(seq(1, 1)), NONE, List.of(), NONE, 0);
    try {
      small.begin(List.of(), List.of(fork(1, 2), fork(1, 3), fork(1, 4)), NONE, List.of(), NONE,
          0);
      throw new AssertionError("expected a refusal");
    } catch (TallyException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
      assertThat(e.field()).isEqualTo("forks");
      assertThat(e.getMessage())
          .isEqualTo("the step has 3 forks; the limit (max_fork_children_per_step) is 2");
    }
  }
}
