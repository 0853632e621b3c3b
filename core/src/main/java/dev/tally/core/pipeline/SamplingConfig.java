package dev.tally.core.pipeline;

import dev.tally.spi.TokenBias;
import java.util.ArrayList;
import java.util.List;

/**
 * The sampling settings of a row or sequence: core's view of {@code tally.v1.SamplingParams}.
 * {@code null} means "unset" for the optional fields. Fluent setters; not thread-safe, and only
 * read while a chain is compiled.
 */
public final class SamplingConfig {
  private Float temperature;
  private Integer topK;
  private Float topP;
  private Float minP;
  private Float typicalP;
  private Float topNSigma;
  private Float repetitionPenalty;
  private Float presencePenalty;
  private Float frequencyPenalty;
  private Integer penaltyLastN;
  private TokenBias logitBias = TokenBias.empty();
  private int[] allowedTokenIds = new int[0];
  private int[] bannedTokenIds = new int[0];
  private long minTokens;
  private int[] eosTokenIds = new int[0];
  private int[] stopTokenIds = new int[0];
  private Long seed;
  private Long sampleIndex;
  private long topLogprobs;
  private boolean processedLogprobs;
  private boolean temperatureLast;
  private List<StageSpec> processors = new ArrayList<>();
  private List<StageSpec> pipeline = new ArrayList<>();
  private boolean explain;
  private int[] labelTokenIds = new int[0];
  private String vocabulary;
  private List<String> stopStrings = new ArrayList<>();
  private String structuredPattern;
  private String structuredField;
  private String structuredStage;

  public Float temperature() {
    return temperature;
  }

  public SamplingConfig temperature(Float v) {
    temperature = v;
    return this;
  }

  public Integer topK() {
    return topK;
  }

  public SamplingConfig topK(Integer v) {
    topK = v;
    return this;
  }

  public Float topP() {
    return topP;
  }

  public SamplingConfig topP(Float v) {
    topP = v;
    return this;
  }

  public Float minP() {
    return minP;
  }

  public SamplingConfig minP(Float v) {
    minP = v;
    return this;
  }

  public Float typicalP() {
    return typicalP;
  }

  public SamplingConfig typicalP(Float v) {
    typicalP = v;
    return this;
  }

  public Float topNSigma() {
    return topNSigma;
  }

  public SamplingConfig topNSigma(Float v) {
    topNSigma = v;
    return this;
  }

  public Float repetitionPenalty() {
    return repetitionPenalty;
  }

  public SamplingConfig repetitionPenalty(Float v) {
    repetitionPenalty = v;
    return this;
  }

  public Float presencePenalty() {
    return presencePenalty;
  }

  public SamplingConfig presencePenalty(Float v) {
    presencePenalty = v;
    return this;
  }

  public Float frequencyPenalty() {
    return frequencyPenalty;
  }

  public SamplingConfig frequencyPenalty(Float v) {
    frequencyPenalty = v;
    return this;
  }

  public Integer penaltyLastN() {
    return penaltyLastN;
  }

  public SamplingConfig penaltyLastN(Integer v) {
    penaltyLastN = v;
    return this;
  }

  public TokenBias logitBias() {
    return logitBias;
  }

  public SamplingConfig logitBias(TokenBias v) {
    logitBias = v;
    return this;
  }

  public int[] allowedTokenIds() {
    return allowedTokenIds;
  }

  public SamplingConfig allowedTokenIds(int... v) {
    allowedTokenIds = v;
    return this;
  }

  public int[] bannedTokenIds() {
    return bannedTokenIds;
  }

  public SamplingConfig bannedTokenIds(int... v) {
    bannedTokenIds = v;
    return this;
  }

  /** Unsigned 32-bit on the wire. */
  public long minTokens() {
    return minTokens;
  }

  public SamplingConfig minTokens(long v) {
    minTokens = v;
    return this;
  }

  public int[] eosTokenIds() {
    return eosTokenIds;
  }

  public SamplingConfig eosTokenIds(int... v) {
    eosTokenIds = v;
    return this;
  }

  public int[] stopTokenIds() {
    return stopTokenIds;
  }

  public SamplingConfig stopTokenIds(int... v) {
    stopTokenIds = v;
    return this;
  }

  public Long seed() {
    return seed;
  }

  public SamplingConfig seed(Long v) {
    seed = v;
    return this;
  }

  /** {@code sample_index}: the row draws with {@code deriveSeed(seed, index)}; null = unset. */
  public Long sampleIndex() {
    return sampleIndex;
  }

  public SamplingConfig sampleIndex(Long v) {
    sampleIndex = v;
    return this;
  }

  /** Unsigned 32-bit on the wire. */
  public long topLogprobs() {
    return topLogprobs;
  }

  public SamplingConfig topLogprobs(long v) {
    topLogprobs = v;
    return this;
  }

  public boolean processedLogprobs() {
    return processedLogprobs;
  }

  public SamplingConfig processedLogprobs(boolean v) {
    processedLogprobs = v;
    return this;
  }

  public boolean temperatureLast() {
    return temperatureLast;
  }

  public SamplingConfig temperatureLast(boolean v) {
    temperatureLast = v;
    return this;
  }

  public List<StageSpec> processors() {
    return processors;
  }

  public SamplingConfig processors(List<StageSpec> v) {
    processors = new ArrayList<>(v);
    return this;
  }

  public List<StageSpec> pipeline() {
    return pipeline;
  }

  public SamplingConfig pipeline(List<StageSpec> v) {
    pipeline = new ArrayList<>(v);
    return this;
  }

  public boolean explain() {
    return explain;
  }

  public SamplingConfig explain(boolean v) {
    explain = v;
    return this;
  }

  /** Label scoring: the candidate labels, or empty when the row is sampled. */
  public int[] labelTokenIds() {
    return labelTokenIds;
  }

  public SamplingConfig labelTokenIds(int... v) {
    labelTokenIds = v;
    return this;
  }

  /** The registered vocabulary's name, or {@code null}. */
  public String vocabulary() {
    return vocabulary;
  }

  public SamplingConfig vocabulary(String v) {
    vocabulary = v;
    return this;
  }

  /** Strings whose appearance in the output bytes ends the sequence; they need a vocabulary. */
  public List<String> stopStrings() {
    return stopStrings;
  }

  public SamplingConfig stopStrings(List<String> v) {
    stopStrings = new ArrayList<>(v);
    return this;
  }

  /**
   * The structured-output constraint: a regular expression the whole output must match (a
   * choice is compiled to one) or a JSON Schema, as {@link #structuredStage()} says; or
   * {@code null}.
   */
  public String structuredPattern() {
    return structuredPattern;
  }

  /** Which {@code structured_output} field the pattern came from, for errors. */
  public String structuredField() {
    return structuredField;
  }

  /** The stage that compiles {@link #structuredPattern()}: {@code regex} or {@code json_schema}. */
  public String structuredStage() {
    return structuredStage;
  }

  public SamplingConfig structuredOutput(String field, String pattern) {
    return structuredOutput(field, "regex", pattern);
  }

  /** A constraint compiled by {@code stage} ({@code regex}: a pattern; {@code json_schema}). */
  public SamplingConfig structuredOutput(String field, String stage, String source) {
    structuredField = field;
    structuredStage = stage;
    structuredPattern = source;
    return this;
  }
}
