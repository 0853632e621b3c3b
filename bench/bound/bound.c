/*
 * The bound for one row of logits: what any sampler that reports logprobs must at least do.
 * max and Σexp(x - max) over the row, with a polynomial exp the compiler vectorises, and a memcpy
 * of the row, each timed alone on one core. Tally's chains are compared to the first (bench/peers).
 *
 *   gcc -O3 -march=native -mprefer-vector-width=512 -ffast-math -o bound bound.c -lm
 *   ./bound 32000 128256 256000
 *
 * -ffast-math lets gcc vectorise the max and the sum (reassociation), and 512-bit vectors are
 * used where the machine has them (gcc prefers 256 by default); both make the bound
 * optimistic, which is what a bound is for. Rows are 3·N(0,1) floats, as in RowSamplerBenchmark.
 * Prints one JSON line per (kernel, vocab): the median µs per row over many repetitions.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* exp(x) for x <= 0: Cody-Waite reduction and a degree-6 polynomial, branch-free. */
static inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  float n = nearbyintf(x * 1.44269504f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.3981999e-3f;
  p = p * r + 8.3334519e-3f;
  p = p * r + 4.1665795e-2f;
  p = p * r + 1.6666665e-1f;
  p = p * r + 5.0000001e-1f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits;
  memcpy(&bits, &p, 4);
  bits += (int32_t) n << 23;
  memcpy(&p, &bits, 4);
  return p;
}

static float row_max(const float *x, int n) {
  float m = -INFINITY;
  for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static float sum_exp(const float *x, int n, float max) {
  float s = 0.0f;
  for (int i = 0; i < n; i++) s += exp_nonpositive(x[i] - max);
  return s;
}

static int cmp_double(const void *a, const void *b) {
  double d = *(const double *) a - *(const double *) b;
  return (d > 0) - (d < 0);
}

static volatile float sink;

static double median_us(int kernel, float *x, float *y, int n) {
  enum { REPS = 2001 };
  static double t[REPS];
  for (int w = 0; w < 200; w++) { /* warm the caches and the clock */
    if (kernel == 0) sink = sum_exp(x, n, row_max(x, n)); else memcpy(y, x, n * 4);
  }
  for (int k = 0; k < REPS; k++) {
    double t0 = now_us();
    if (kernel == 0) {
      sink = sum_exp(x, n, row_max(x, n));
    } else {
      memcpy(y, x, n * 4);
      sink = y[k % n];
    }
    t[k] = now_us() - t0;
  }
  qsort(t, REPS, sizeof t[0], cmp_double);
  return t[REPS / 2];
}

int main(int argc, char **argv) {
  uint64_t state = 42;
  for (int a = 1; a < argc; a++) {
    int n = atoi(argv[a]);
    float *x = aligned_alloc(64, ((size_t) n * 4 + 63) / 64 * 64);
    float *y = aligned_alloc(64, ((size_t) n * 4 + 63) / 64 * 64);
    for (int i = 0; i < n; i += 2) { /* Box-Muller from a 64-bit LCG */
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      double u1 = ((state >> 11) + 1.0) / 9007199254740993.0;
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      double u2 = (state >> 11) / 9007199254740992.0;
      double r = sqrt(-2 * log(u1));
      x[i] = (float) (3 * r * cos(2 * M_PI * u2));
      if (i + 1 < n) x[i + 1] = (float) (3 * r * sin(2 * M_PI * u2));
    }
    printf("{\"kernel\": \"max_sumexp\", \"vocab\": %d, \"us_per_row\": %.3f}\n", n,
           median_us(0, x, y, n));
    printf("{\"kernel\": \"memcpy\", \"vocab\": %d, \"us_per_row\": %.3f}\n", n,
           median_us(1, x, y, n));
    free(x);
    free(y);
  }
  return 0;
}
