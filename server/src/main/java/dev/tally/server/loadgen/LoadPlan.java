package dev.tally.server.loadgen;

import dev.tally.api.v1.DType;
import dev.tally.api.v1.SamplingParams;
import java.time.Duration;

/** What a load run does: how many streams, what each step carries, for how long. */
record LoadPlan(int sessions, int batch, int vocab, DType dtype, SamplingParams params,
    Duration warmup, Duration duration, boolean sharedMemory) {

  static DType dtype(String name) {
    switch (name) {
      case "float32":
      case "f32":
        return DType.DTYPE_FLOAT32;
      case "float16":
      case "f16":
        return DType.DTYPE_FLOAT16;
      case "bfloat16":
      case "bf16":
        return DType.DTYPE_BFLOAT16;
      default:
        throw new IllegalArgumentException("--dtype must be float32, float16 or bfloat16: " + name);
    }
  }

  /** The chains of issue 5, each with top-5 raw logprobs. */
  static SamplingParams params(String chain) {
    SamplingParams.Builder p = SamplingParams.newBuilder().setTopLogprobs(5);
    switch (chain) {
      case "default": // llama.cpp's default chain
        return p.setRepetitionPenalty(1.1f).setPenaltyLastN(64).setTopK(40).setTopP(0.95f)
            .setMinP(0.05f).setTemperature(0.8f)
            .setOrder(dev.tally.api.v1.Order.ORDER_TEMPERATURE_LAST).build();
      case "greedy":
        return p.setTemperature(0).build();
      case "top_p":
        return p.setTopP(0.9f).build();
      default:
        throw new IllegalArgumentException("--chain must be default, greedy or top_p: " + chain);
    }
  }

  int elementBytes() {
    return dtype == DType.DTYPE_FLOAT32 ? 4 : 2;
  }

  long stepBytes() {
    return (long) batch * vocab * elementBytes();
  }
}
