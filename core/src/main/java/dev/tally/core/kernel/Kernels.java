package dev.tally.core.kernel;

import org.slf4j.Logger;

/**
 * The full-vocabulary loops of sampling, chosen once per JVM: a Vector API implementation where
 * the running JVM compiles it well (JDK 21+ with {@code --add-modules jdk.incubator.vector}), the
 * scalar one elsewhere. On JDK 17 the Vector API is present but its code is slower than scalar
 * ({@code docs/benchmarks.md}), so it is not chosen there unless asked for.
 *
 * <p>Override with {@code -Dtally.kernels=scalar|vector}. Both produce the same maxima and counts,
 * and sums within 1e-6 relative of each other.
 */
public interface Kernels extends dev.tally.spi.VocabKernels {
  /**
   * The largest of {@code x[from, to)}; NaN when any element is NaN or +Infinity (the caller then
   * finds and reports it).
   */
  float maxOrNaN(float[] x, int from, int to);

  /** {@link #maxOrNaN(float[], int, int)} over {@code x[0, n)}. */
  default float maxOrNaN(float[] x, int n) {
    return maxOrNaN(x, 0, n);
  }

  /** {@code Σ exp(x[i] - max)} over {@code [0, n)}, for {@code max ≥} every element. */
  double sumExp(float[] x, int n, float max);

  /**
   * {@link #sumExp}, bit for bit, that also writes each term as {@link #expInto} does: the raw
   * row's Σexp and the softmax terms a nucleus or a draw over the whole row reads, in one pass.
   */
  double sumExpInto(float[] x, int n, float max, float[] terms);

  /**
   * bfloat16 bit patterns to float32, exactly (the top half of a float32): {@code src[0, to -
   * from)} into {@code dst[from, to)}. The source starts at 0 so that a chunked pass can decode
   * through one small scratch array that stays in L1.
   */
  void widenBfloat16(short[] src, float[] dst, int from, int to);

  /**
   * IEEE binary16 bit patterns to float32, exactly (subnormals, infinities and NaNs included):
   * {@code src[0, to - from)} into {@code dst[from, to)}.
   */
  void widenFloat16(short[] src, float[] dst, int from, int to);

  /** {@code #{i < n : x[i] ≥ t}}. */
  int countAtLeast(float[] x, int n, float t);

  @Override
  default float max(float[] x, int n) {
    return maxOrNaN(x, n); // candidates never hold NaN or +Inf: the row was checked first
  }

  /** A short name for logs and benchmarks. */
  String name();

  /** The kernels this JVM should use. */
  static Kernels best() {
    return Selection.BEST;
  }

  /** The scalar kernels, always available. */
  static Kernels scalar() {
    return ScalarKernels.INSTANCE;
  }

  /** The Vector API kernels, or {@code null} when the module is not in the boot layer. */
  static Kernels vector() {
    return Selection.vectorOrNull();
  }

  /** Holds the choice, made once. */
  final class Selection {
    static final Kernels BEST = choose();

    private Selection() {}

    private static Kernels choose() {
      String wanted = System.getProperty("tally.kernels", "auto");
      Kernels vector = vectorOrNull();
      switch (wanted) {
        case "scalar":
          return ScalarKernels.INSTANCE;
        case "vector":
          if (vector == null) {
            throw new IllegalStateException(
                "-Dtally.kernels=vector needs --add-modules jdk.incubator.vector");
          }
          return vector;
        default:
          return vector != null && Runtime.version().feature() >= 21 ? vector
              : ScalarKernels.INSTANCE;
      }
    }

    static Kernels vectorOrNull() {
      if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
        return null;
      }
      try {
        // Loaded reflectively: naming the class would fail to link without the module.
        return (Kernels) Class.forName("dev.tally.core.kernel.VectorKernels")
            .getDeclaredField("INSTANCE").get(null);
      } catch (ReflectiveOperationException | LinkageError e) {
        return null;
      }
    }

    /** Logs which kernels run, once, at start-up. */
    public static void log(Logger log) {
      log.info("sampling kernels: {} (JDK {})", BEST.name(), Runtime.version().feature());
    }
  }
}
