package dev.tally.server.grpc;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.tally.api.v1.Explanation;
import dev.tally.api.v1.FinishReason;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.StructuredOutput;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.LogprobsMode;
import dev.tally.api.v1.Order;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.StageTrace;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenLogprob;
import dev.tally.api.v1.Verdict;
import dev.tally.core.engine.RowResult;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.spi.TokenBias;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Translates between the {@code tally.v1} messages and core's types. No logic of its own. */
final class ProtoMapper {
  private ProtoMapper() {}

  /** The transport's per-connection limits, as {@code GetServerInfo} reports them. */
  static dev.tally.api.v1.ConnectionLimits toProto(
      dev.tally.server.config.ConnectionLimits limits) {
    return dev.tally.api.v1.ConnectionLimits.newBuilder()
        .setMaxConcurrentStreams(limits.maxConcurrentStreams())
        .setMaxRstFramesPerWindow(limits.maxRstFramesPerWindow())
        .setRstWindowMillis(limits.rstWindow().toMillis())
        .setMaxHeaderListBytes(limits.maxHeaderListBytes())
        .setPermitKeepaliveTimeMillis(limits.permitKeepAliveTime().toMillis())
        .setPermitKeepaliveWithoutCalls(limits.permitKeepAliveWithoutCalls())
        .setMaxConnectionIdleMillis(limits.maxConnectionIdle().toMillis())
        .setKeepaliveTimeMillis(limits.keepAliveTime().toMillis())
        .setKeepaliveTimeoutMillis(limits.keepAliveTimeout().toMillis())
        .build();
  }

  static SamplingConfig toConfig(SamplingParams p) {
    SamplingConfig c = new SamplingConfig()
        .temperature(p.hasTemperature() ? p.getTemperature() : null)
        .topK(p.hasTopK() ? p.getTopK() : null)
        .topP(p.hasTopP() ? p.getTopP() : null)
        .minP(p.hasMinP() ? p.getMinP() : null)
        .typicalP(p.hasTypicalP() ? p.getTypicalP() : null)
        .topNSigma(p.hasTopNSigma() ? p.getTopNSigma() : null)
        .repetitionPenalty(p.hasRepetitionPenalty() ? p.getRepetitionPenalty() : null)
        .presencePenalty(p.hasPresencePenalty() ? p.getPresencePenalty() : null)
        .frequencyPenalty(p.hasFrequencyPenalty() ? p.getFrequencyPenalty() : null)
        .penaltyLastN(p.hasPenaltyLastN() ? p.getPenaltyLastN() : null)
        .allowedTokenIds(toArray(p.getAllowedTokenIdsList()))
        .bannedTokenIds(toArray(p.getBannedTokenIdsList()))
        .minTokens(Integer.toUnsignedLong(p.getMinTokens()))
        .eosTokenIds(toArray(p.getEosTokenIdsList()))
        .stopTokenIds(toArray(p.getStopTokenIdsList()))
        .seed(p.hasSeed() ? p.getSeed() : null)
        .sampleIndex(p.hasSampleIndex() ? Integer.toUnsignedLong(p.getSampleIndex()) : null)
        .topLogprobs(Integer.toUnsignedLong(p.getTopLogprobs()))
        .processedLogprobs(p.getTopLogprobsMode() == LogprobsMode.LOGPROBS_MODE_PROCESSED)
        .temperatureLast(p.getOrder() == Order.ORDER_TEMPERATURE_LAST)
        .processors(toStages(p.getProcessorsList()))
        .pipeline(toStages(p.getPipelineList()))
        .explain(p.getExplain())
        .labelTokenIds(toArray(p.getLabelTokenIdsList()))
        .vocabulary(p.getVocabulary().isEmpty() ? null : p.getVocabulary())
        .stopStrings(p.getStopStringsList());
    if (p.hasStructuredOutput()) {
      StructuredOutput so = p.getStructuredOutput();
      switch (so.getKindCase()) {
        case REGEX:
          c.structuredOutput("structured_output.regex", so.getRegex());
          break;
        case CHOICE:
          c.structuredOutput("structured_output.choice",
              ChainCompiler.choicePattern(so.getChoice().getChoicesList()));
          break;
        case JSON_SCHEMA:
          c.structuredOutput("structured_output.json_schema", "json_schema",
              so.getJsonSchema());
          break;
        default:
          throw TallyException.invalidParams("structured_output",
              "structured_output sets none of regex, choice and json_schema");
      }
    }
    if (p.getLogitBiasCount() > 0) {
      Map<Integer, Float> bias = p.getLogitBiasMap();
      int[] ids = new int[bias.size()];
      float[] values = new float[bias.size()];
      int i = 0;
      for (Map.Entry<Integer, Float> e : bias.entrySet()) {
        ids[i] = e.getKey();
        values[i++] = e.getValue();
      }
      c.logitBias(TokenBias.of(ids, values));
    }
    return c;
  }

  /** Core's vocabulary from a registration (the bytes are copied once, out of the message). */
  static Vocabulary toVocabulary(RegisterVocabularyRequest r) {
    int[] lengths = new int[r.getTokenLengthsCount()];
    for (int i = 0; i < lengths.length; i++) {
      lengths[i] = r.getTokenLengths(i); // unboxed: a vocabulary has up to ~256k of them
    }
    return Vocabulary.of(r.getName(), r.getTokenBytes().toByteArray(), lengths,
        toArray(r.getSpecialTokenIdsList()), toArray(r.getEosTokenIdsList()));
  }

  static dev.tally.api.v1.Vocabulary toProto(Vocabulary v) {
    dev.tally.api.v1.Vocabulary.Builder b = dev.tally.api.v1.Vocabulary.newBuilder()
        .setName(v.name())
        .setSize(v.size())
        .setFingerprint(v.fingerprint())
        .setTokenBytes(v.tokenByteCount())
        .setMemoryBytes(v.memoryBytes());
    for (int id : v.specialTokenIds()) {
      b.addSpecialTokenIds(id);
    }
    for (int id : v.eosTokenIds()) {
      b.addEosTokenIds(id);
    }
    return b.build();
  }

  /** Wraps the tensor's inline bytes without copying them. */
  static LogitsTensor toTensor(Logits logits) {
    return toTensor(logits, logits.getData().asReadOnlyByteBuffer());
  }

  /** The tensor's shape over {@code data} (inline or shared-memory bytes), not copied. */
  static LogitsTensor toTensor(Logits logits, java.nio.ByteBuffer data) {
    return LogitsTensor.of(toDType(logits.getDtype()), Integer.toUnsignedLong(logits.getRows()),
        Integer.toUnsignedLong(logits.getVocabSize()), data);
  }

  /** Core's dtype, or null for an unset or unknown one (the tensor check names it). */
  static DType toDType(dev.tally.api.v1.DType dtype) {
    switch (dtype) {
      case DTYPE_FLOAT32:
        return DType.FLOAT32;
      case DTYPE_FLOAT16:
        return DType.FLOAT16;
      case DTYPE_BFLOAT16:
        return DType.BFLOAT16;
      default:
        return null;
    }
  }

  /**
   * Each row's target token, from {@code field} (empty, or one per row; -1 draws), as {@link
   * dev.tally.core.engine.RowSampler#DRAW} or a token id in {@code [0, vocabSize)}.
   *
   * @throws TallyException INVALID_PARAMS naming the field and the entry
   */
  static int[] targets(List<Integer> given, int rows, int vocabSize, String field) {
    int[] out = new int[rows];
    java.util.Arrays.fill(out, dev.tally.core.engine.RowSampler.DRAW);
    if (given.isEmpty()) {
      return out;
    }
    if (given.size() != rows) {
      throw TallyException.invalidParams(field, field + " must be empty or have one entry per row ("
          + rows + "), got " + given.size());
    }
    for (int i = 0; i < rows; i++) {
      int t = given.get(i);
      if (t < -1 || t >= vocabSize) {
        throw TallyException.invalidParams(field + "[" + i + "]", field + "[" + i + "] is " + t
            + ": a token id in [0, " + vocabSize + ") to score, or -1 to draw");
      }
      out[i] = t;
    }
    return out;
  }

  /** A {@code Sample} row: its cumulative logprob is its own. */
  static TokenChoice toChoice(RowResult r) {
    return toChoice(r, r.logprob());
  }

  /** A row, with its sequence's cumulative logprob (ignored when the row failed). */
  static TokenChoice toChoice(RowResult r, double cumulativeLogprob) {
    TokenChoice.Builder b = TokenChoice.newBuilder().setSeed(r.seed());
    if (r.failed()) {
      return b.setTokenId(-1).setError(Errors.toStatus(r.error())).build();
    }
    if (r.verdict() == RowResult.Verdict.DISCARDED) {
      return b.setTokenId(-1).setVerdict(Verdict.VERDICT_DISCARDED).build();
    }
    if (r.verdict() == RowResult.Verdict.ACCEPTED || r.verdict() == RowResult.Verdict.CORRECTED) {
      b.setAcceptanceProbability(r.acceptanceProbability());
    }
    b.setTokenId(r.tokenId())
        .setCumulativeLogprob(cumulativeLogprob)
        .setIsGreedy(r.isGreedy())
        .setVerdict(toVerdict(r.verdict()))
        .setLogprob(r.logprob())
        .setProcessedLogprob(r.processedLogprob())
        .setRank(r.rank())
        .setFinishReason(toFinish(r.finish()));
    if (r.stopString() != null) {
      b.setStopString(r.stopString()).setStopStringTrailingBytes(r.stopStringTrailingBytes());
    }
    int[] ids = r.topIds();
    float[] logprobs = r.topLogprobs();
    for (int i = 0; i < ids.length; i++) {
      b.addTopLogprobs(TokenLogprob.newBuilder().setTokenId(ids[i]).setLogprob(logprobs[i]));
    }
    for (int i = 0; i < r.labelIds().length; i++) {
      b.addLabelLogprobs(TokenLogprob.newBuilder().setTokenId(r.labelIds()[i])
          .setLogprob(r.labelLogprobs()[i]));
    }
    if (!r.stages().isEmpty()) {
      Explanation.Builder e = Explanation.newBuilder().setTopLogitGap(r.topLogitGap());
      for (RowResult.StageTrace t : r.stages()) {
        e.addStages(StageTrace.newBuilder()
            .setName(t.name)
            .setCandidates(t.candidates)
            .setEntropy((float) t.entropy)
            .setChosenProbability((float) t.chosenProbability)
            .setTopLogitGap(t.topLogitGap));
      }
      b.setExplanation(e);
    }
    return b.build();
  }

  private static Verdict toVerdict(RowResult.Verdict v) {
    switch (v) {
      case SCORED:
        return Verdict.VERDICT_SCORED;
      case ACCEPTED:
        return Verdict.VERDICT_ACCEPTED;
      case CORRECTED:
        return Verdict.VERDICT_CORRECTED;
      case BONUS:
        return Verdict.VERDICT_BONUS;
      case DISCARDED:
        return Verdict.VERDICT_DISCARDED;
      default:
        return Verdict.VERDICT_UNSPECIFIED;
    }
  }

  /** A failed row that never reached the sampler (e.g. its step was rejected). */
  static TokenChoice toChoice(TallyException e, long seed) {
    return TokenChoice.newBuilder().setTokenId(-1).setSeed(seed).setError(Errors.toStatus(e))
        .build();
  }

  private static FinishReason toFinish(RowResult.Finish f) {
    switch (f) {
      case EOS_TOKEN:
        return FinishReason.FINISH_REASON_EOS_TOKEN;
      case STOP_TOKEN:
        return FinishReason.FINISH_REASON_STOP_TOKEN;
      case STOP_STRING:
        return FinishReason.FINISH_REASON_STOP_STRING;
      default:
        return FinishReason.FINISH_REASON_NONE;
    }
  }

  static int[] toArray(List<Integer> ids) {
    int[] out = new int[ids.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ids.get(i);
    }
    return out;
  }

  private static List<StageSpec> toStages(List<ProcessorSpec> specs) {
    List<StageSpec> out = new ArrayList<>(specs.size());
    for (ProcessorSpec s : specs) {
      out.add(new StageSpec(s.getName(), toMap(s.getParams())));
    }
    return out;
  }

  /** JSON values as plain Java: null, Double, String, Boolean, List and Map. */
  static Map<String, Object> toMap(Struct struct) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, Value> e : struct.getFieldsMap().entrySet()) {
      out.put(e.getKey(), toJava(e.getValue()));
    }
    return out;
  }

  private static Object toJava(Value v) {
    switch (v.getKindCase()) {
      case NUMBER_VALUE:
        return v.getNumberValue();
      case STRING_VALUE:
        return v.getStringValue();
      case BOOL_VALUE:
        return v.getBoolValue();
      case STRUCT_VALUE:
        return toMap(v.getStructValue());
      case LIST_VALUE:
        ListValue list = v.getListValue();
        List<Object> out = new ArrayList<>(list.getValuesCount());
        for (Value item : list.getValuesList()) {
          out.add(toJava(item));
        }
        return out;
      default:
        return null;
    }
  }
}
