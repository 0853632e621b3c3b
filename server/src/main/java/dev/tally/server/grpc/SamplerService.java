package dev.tally.server.grpc;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.ListVocabulariesRequest;
import dev.tally.api.v1.ListVocabulariesResponse;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.RegisterVocabularyResponse;
import dev.tally.api.v1.UnregisterVocabularyRequest;
import dev.tally.api.v1.UnregisterVocabularyResponse;
import dev.tally.api.v1.GetSharedMemoryStatusRequest;
import dev.tally.api.v1.RegisterSharedMemoryRequest;
import dev.tally.api.v1.RegisterSharedMemoryResponse;
import dev.tally.api.v1.SharedMemoryRegion;
import dev.tally.api.v1.SharedMemoryStatus;
import dev.tally.api.v1.UnregisterSharedMemoryRequest;
import dev.tally.api.v1.UnregisterSharedMemoryResponse;
import dev.tally.api.v1.Limits;
import dev.tally.api.v1.ListProcessorsRequest;
import dev.tally.api.v1.ListProcessorsResponse;
import dev.tally.api.v1.ParamInfo;
import dev.tally.api.v1.PluginInfo;
import dev.tally.api.v1.ProcessorInfo;
import dev.tally.api.v1.ProcessorKind;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.ServerInfo;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenHistory;
import dev.tally.core.TallyVersion;
import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.registry.RegisteredFactory;
import dev.tally.core.registry.StageKind;
import dev.tally.core.session.SessionState;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.core.vocab.VocabularyRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.RowJob;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.shm.ConnectionRegions;
import dev.tally.server.shm.RegionTable;
import dev.tally.server.shm.SharedMemory;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenBias;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.security.SecureRandom;
import java.util.List;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code tally.v1.Sampler} service. Handlers only parse, validate and dispatch: rows are
 * sampled on the {@link SamplerPool}, and the response is sent from there.
 */
public final class SamplerService implements SamplerGrpc.AsyncService {
  private static final Logger log = LoggerFactory.getLogger(SamplerService.class);

  private final ServerConfig config;
  private final ProcessorRegistry registry;
  private final ChainCompiler compiler;
  private final SamplerPool pool;
  private final SessionTracker sessions;
  private final ServerInfoSource info;
  private final StepLimits limits;
  private final LongSupplier seeds;
  private final dev.tally.server.metrics.TallyMetrics metrics;
  private final SharedMemory sharedMemory;
  private final VocabularyRegistry vocabularies;
  private final RequestBuffers buffers = new RequestBuffers();

  @Inject
  SamplerService(ServerConfig config, ProcessorRegistry registry, SamplerPool pool,
      SessionTracker sessions, ServerInfoSource info,
      dev.tally.server.metrics.TallyMetrics metrics, SharedMemory sharedMemory,
      VocabularyRegistry vocabularies) {
    this.metrics = metrics;
    this.sharedMemory = sharedMemory;
    this.config = config;
    this.registry = registry;
    this.vocabularies = vocabularies;
    this.compiler = new ChainCompiler(registry, vocabularies, config.maxTopLogprobs());
    this.pool = pool;
    this.sessions = sessions;
    this.info = info;
    this.limits = new StepLimits(config.maxRows(), config.maxVocabSize(), config.maxStepElements());
    SecureRandom random = new SecureRandom();
    this.seeds = random::nextLong;
  }

  @Override
  public void sample(SampleRequest request, StreamObserver<SampleResponse> out) {
    long received = System.nanoTime();
    StepLogits logits;
    RowJob[] jobs;
    try {
      if (!request.hasLogits()) {
        throw new TallyException(dev.tally.core.error.ErrorCode.INVALID_TENSOR, "logits",
            "logits is required");
      }
      logits = StepLogits.of(request.getLogits(), limits, ConnectionRegions.current(), null);
      try {
        jobs = rowJobs(request, logits.tensor());
      } catch (RuntimeException e) {
        logits.release();
        throw e;
      }
    } catch (TallyException e) {
      metrics.error(e.code().canonical().name(), e.code().name());
      out.onError(Errors.toException(e));
      return;
    }
    long decoded = System.nanoTime();
    int rowCount = jobs.length;
    SamplerPool.StepFuture sampled = pool.sample(logits.tensor(), jobs);
    sampled.whenComplete((results, error) -> {
      logits.release(); // before the response: the response frees the client's bytes
      if (error != null) {
        TallyException failure = logits.failure(error);
        if (failure.code() == dev.tally.core.error.ErrorCode.INTERNAL) {
          log.error("Sample failed", error);
        }
        metrics.error(failure.code().canonical().name(), failure.code().name());
        out.onError(Errors.toException(failure));
        return;
      }
      SampleResponse.Builder response = SampleResponse.newBuilder();
      for (RowResult r : results) {
        response.addChoices(ProtoMapper.toChoice(r));
      }
      long now = System.nanoTime();
      long started = sampled.startedOr(now);
      metrics.step("sample", rowCount, StepLogits.inlineBytes(request.getLogits()),
          decoded - received, started - decoded, now - started);
      out.onNext(response.build());
      out.onCompleted();
    });
  }

  /** Compiles each row's chain and history; every error is found before any row runs. */
  private RowJob[] rowJobs(SampleRequest request, LogitsTensor logits) {
    int rows = logits.rows();
    int paramCount = request.getParamsCount();
    if (paramCount != 1 && paramCount != rows) {
      throw TallyException.invalidParams("params", "params must have 1 entry (for all rows) or one"
          + " per row (" + rows + "), got " + paramCount);
    }
    int historyCount = request.getHistoriesCount();
    if (historyCount != 0 && historyCount != rows) {
      throw TallyException.invalidParams("histories",
          "histories must be empty or have one entry per row (" + rows + "), got " + historyCount);
    }
    Chain[] chains = new Chain[paramCount];
    for (int i = 0; i < paramCount; i++) {
      SamplingParams p = request.getParams(i);
      try {
        chains[i] = compiler.compile(ProtoMapper.toConfig(p));
        chains[i].checkVocabulary(logits.vocabSize());
      } catch (TallyException e) {
        throw e.under("params[" + i + "]");
      }
    }
    int[] targets = ProtoMapper.targets(request.getTargetTokenIdsList(), rows, logits.vocabSize(),
        "target_token_ids");
    RowJob[] jobs = new RowJob[rows];
    for (int row = 0; row < rows; row++) {
      Chain chain = chains[paramCount == 1 ? 0 : row];
      TokenLog history = historyCount == 0 ? TokenLog.empty()
          : history(request.getHistories(row), row, logits.vocabSize());
      long seed = chain.seed() != null ? chain.seed() : seeds.getAsLong();
      jobs[row] = new RowJob(chain, history, seed, targets[row]);
    }
    return jobs;
  }

  private static TokenLog history(TokenHistory h, int row, int vocabSize) {
    String field = "histories[" + row + "]";
    TokenLog log;
    try {
      log = TokenLog.of(ProtoMapper.toArray(h.getPromptTokenIdsList()),
          ProtoMapper.toArray(h.getOutputTokenIdsList()));
    } catch (IllegalArgumentException e) {
      throw TallyException.invalidParams(field, field + ": " + e.getMessage());
    }
    if (log.maxTokenId() >= vocabSize) {
      throw TallyException.invalidParams(field, field + " holds token id " + log.maxTokenId()
          + ", outside the vocabulary of " + vocabSize);
    }
    return log;
  }

  @Override
  public StreamObserver<SessionRequest> session(StreamObserver<SessionResponse> out) {
    // Refused only when every slot is taken, so as many sessions are open as the limit allows.
    if (!sessions.reserve(config.maxSessions())) {
      metrics.error("RESOURCE_EXHAUSTED", "LIMIT_EXCEEDED");
      out.onError(Errors.toException(new TallyException(
          dev.tally.core.error.ErrorCode.LIMIT_EXCEEDED, "max_sessions", config.maxSessions()
              + " sessions are open; this server's limit (max_sessions) is "
              + config.maxSessions())));
      return new io.grpc.stub.StreamObserver<>() { // the stream is already closed
        @Override public void onNext(SessionRequest r) {}
        @Override public void onError(Throwable t) {}
        @Override public void onCompleted() {}
      };
    }
    SessionCall call;
    try {
      SessionState state = new SessionState(compiler, config.maxSequencesPerSession(),
          config.maxRows(), seeds);
      RegionTable connection = ConnectionRegions.current();
      RegionTable own = sharedMemory.newTable(connection == null ? null
          : connection.unavailableReason());
      call = new SessionCall((ServerCallStreamObserver<SessionResponse>) out, state, pool, limits,
          sessions, own, connection, buffers).withStats(metrics.session(
              dev.tally.server.metrics.PeerInterceptor.current(), state::size));
    } catch (RuntimeException e) {
      sessions.unreserve(); // the stream never opened: its slot is free again
      throw e;
    }
    call.start(); // the call holds the slot from here: closing it frees the slot
    return call;
  }

  /** The arrays this server's large requests are parsed into (see {@link SamplerDefinition}). */
  RequestBuffers requestBuffers() {
    return buffers;
  }

  @Override
  public void listProcessors(ListProcessorsRequest request,
      StreamObserver<ListProcessorsResponse> out) {
    ListProcessorsResponse.Builder response = ListProcessorsResponse.newBuilder();
    for (RegisteredFactory f : registry.all()) {
      ProcessorInfo.Builder p = ProcessorInfo.newBuilder()
          .setName(f.name())
          .setKind(f.kind() == StageKind.SELECTOR ? ProcessorKind.SELECTOR : ProcessorKind.PROCESSOR)
          .setDescription(f.description())
          .setPlugin(f.plugin())
          .setVersion(f.pluginVersion());
      for (ParamSpec spec : f.params()) {
        p.addParams(paramInfo(spec));
      }
      response.addProcessors(p);
    }
    out.onNext(response.build());
    out.onCompleted();
  }

  private static ParamInfo paramInfo(ParamSpec spec) {
    ParamInfo.Builder b = ParamInfo.newBuilder()
        .setName(spec.name())
        .setType(spec.type().wireName())
        .setDescription(spec.description())
        .setRequired(spec.required())
        .addAllAllowedValues(spec.allowedValues());
    if (spec.defaultValue() != null) {
      b.setDefaultValue(toValue(spec.defaultValue()));
    }
    if (spec.minimum() != null) {
      b.setMinimum(spec.minimum());
    }
    if (spec.maximum() != null) {
      b.setMaximum(spec.maximum());
    }
    return b.build();
  }

  private static Value toValue(Object v) {
    if (v instanceof Boolean) {
      return Value.newBuilder().setBoolValue((Boolean) v).build();
    }
    if (v instanceof Number) {
      return Value.newBuilder().setNumberValue(((Number) v).doubleValue()).build();
    }
    if (v instanceof int[]) {
      ListValue.Builder list = ListValue.newBuilder();
      for (int x : (int[]) v) {
        list.addValues(Value.newBuilder().setNumberValue(x));
      }
      return Value.newBuilder().setListValue(list).build();
    }
    if (v instanceof int[][]) { // token_sequences: a list of token-id lists
      ListValue.Builder outer = ListValue.newBuilder();
      for (int[] sequence : (int[][]) v) {
        outer.addValues(toValue(sequence));
      }
      return Value.newBuilder().setListValue(outer).build();
    }
    if (v instanceof TokenBias) {
      TokenBias bias = (TokenBias) v;
      Struct.Builder s = Struct.newBuilder();
      for (int i = 0; i < bias.size(); i++) {
        s.putFields(Integer.toString(bias.tokenId(i)),
            Value.newBuilder().setNumberValue(bias.bias(i)).build());
      }
      return Value.newBuilder().setStructValue(s).build();
    }
    return Value.newBuilder().setStringValue(String.valueOf(v)).build();
  }

  /** The decode modes of docs/decode-modes.md this server implements. */
  static final List<String> FEATURES = List.of("fork", "sample_index", "score", "verify.strict");

  @Override
  public void getServerInfo(GetServerInfoRequest request, StreamObserver<ServerInfo> out) {
    ServerInfo.Builder b = ServerInfo.newBuilder()
        .setVersion(TallyVersion.get())
        .addAllDtypes(List.of(DType.DTYPE_FLOAT32, DType.DTYPE_FLOAT16, DType.DTYPE_BFLOAT16))
        .setLimits(Limits.newBuilder()
            .setMaxRows(config.maxRows())
            .setMaxVocabSize(config.maxVocabSize())
            .setMaxMessageBytes(config.maxMessageBytes())
            .setMaxTopLogprobs(config.maxTopLogprobs())
            .setMaxSequencesPerSession(config.maxSequencesPerSession())
            .setMaxSessions(config.maxSessions())
            .setStepDeadlineMillis(config.stepDeadline().toMillis())
            .setMaxSharedMemoryRegions(sharedMemory.config().maxRegionsPerOwner())
            .setMaxSharedMemoryBytes(sharedMemory.config().maxBytesMapped())
            .setMaxStepElements(config.maxStepElements())
            .setMaxVocabularies(vocabularies.maxVocabularies())
            .setMaxVocabularyBytes(vocabularies.maxBytes())
            .setMaxForkChildrenPerStep(config.maxRows())
            .setMaxDraftTokens(SessionState.MAX_DRAFT_TOKENS))
        .addAllFeatures(FEATURES)
        .setSharedMemory(sharedMemoryStatus())
        .setConnectionLimits(ProtoMapper.toProto(config.connectionLimits()))
        .addAllTransports(info.transports())
        .setSpiVersion(SpiVersion.CURRENT)
        .setActiveSessions(sessions.size());
    for (TallyPlugin plugin : registry.plugins()) {
      b.addPlugins(PluginInfo.newBuilder()
          .setName(plugin.name())
          .setVersion(plugin.version())
          .addAllProcessors(ProcessorRegistry.namesOf(plugin)));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void registerSharedMemory(RegisterSharedMemoryRequest request,
      StreamObserver<RegisterSharedMemoryResponse> out) {
    try {
      RegionTable.Registered r = connectionTable("name").register(request.getName(),
          request.getKey(), request.getByteSize(), "");
      out.onNext(RegisterSharedMemoryResponse.newBuilder().setRegion(toRegion(r)).build());
      out.onCompleted();
    } catch (TallyException e) {
      metrics.error(e.code().canonical().name(), e.code().name());
      out.onError(Errors.toException(e));
    }
  }

  @Override
  public void unregisterSharedMemory(UnregisterSharedMemoryRequest request,
      StreamObserver<UnregisterSharedMemoryResponse> out) {
    try {
      connectionTable("name").unregister(request.getName(), "name");
      out.onNext(UnregisterSharedMemoryResponse.getDefaultInstance());
      out.onCompleted();
    } catch (TallyException e) {
      metrics.error(e.code().canonical().name(), e.code().name());
      out.onError(Errors.toException(e));
    }
  }

  @Override
  public void getSharedMemoryStatus(GetSharedMemoryStatusRequest request,
      StreamObserver<SharedMemoryStatus> out) {
    out.onNext(sharedMemoryStatus());
    out.onCompleted();
  }

  /** Support, this connection's regions and the server's totals. */
  private SharedMemoryStatus sharedMemoryStatus() {
    RegionTable table = ConnectionRegions.current();
    String reason = table != null ? table.unavailableReason()
        : sharedMemory.unsupportedReason() != null ? sharedMemory.unsupportedReason()
        : "this call did not come through one of the server's listeners";
    SharedMemoryStatus.Builder b = SharedMemoryStatus.newBuilder()
        .setSupported(reason == null)
        .setServerRegions(sharedMemory.regions())
        .setServerBytesMapped(sharedMemory.bytesMapped());
    if (reason != null) {
      b.setUnsupportedReason(reason);
    }
    if (table != null) {
      table.list().forEach(r -> b.addRegions(toRegion(r)));
    }
    return b.build();
  }

  private static SharedMemoryRegion toRegion(RegionTable.Registered r) {
    return SharedMemoryRegion.newBuilder().setName(r.name()).setKey(r.key())
        .setByteSize(r.byteSize()).build();
  }

  private RegionTable connectionTable(String field) {
    RegionTable table = ConnectionRegions.current();
    if (table == null) {
      throw new TallyException(dev.tally.core.error.ErrorCode.SHARED_MEMORY_UNAVAILABLE, field,
          "this call did not come through one of the server's listeners: no shared memory");
    }
    return table;
  }

  @Override
  public void registerVocabulary(RegisterVocabularyRequest request,
      StreamObserver<RegisterVocabularyResponse> out) {
    try {
      Vocabulary v = ProtoMapper.toVocabulary(request);
      boolean created = vocabularies.register(v);
      if (created) {
        log.info("Registered vocabulary '{}': {} tokens, {} bytes, fingerprint {}", v.name(),
            v.size(), v.tokenByteCount(), v.fingerprint().substring(0, 12));
      }
      out.onNext(RegisterVocabularyResponse.newBuilder().setVocabulary(ProtoMapper.toProto(v))
          .setCreated(created).build());
      out.onCompleted();
    } catch (TallyException e) {
      metrics.error(e.code().canonical().name(), e.code().name());
      out.onError(Errors.toException(e));
    }
  }

  @Override
  public void unregisterVocabulary(UnregisterVocabularyRequest request,
      StreamObserver<UnregisterVocabularyResponse> out) {
    try {
      vocabularies.lookup(request.getName(), "name");
      if (vocabularies.unregister(request.getName())) {
        log.info("Unregistered vocabulary '{}'", request.getName());
      }
      out.onNext(UnregisterVocabularyResponse.getDefaultInstance());
      out.onCompleted();
    } catch (TallyException e) {
      metrics.error(e.code().canonical().name(), e.code().name());
      out.onError(Errors.toException(e));
    }
  }

  @Override
  public void listVocabularies(ListVocabulariesRequest request,
      StreamObserver<ListVocabulariesResponse> out) {
    ListVocabulariesResponse.Builder b = ListVocabulariesResponse.newBuilder();
    vocabularies.list().forEach(v -> b.addVocabularies(ProtoMapper.toProto(v)));
    out.onNext(b.build());
    out.onCompleted();
  }
}
