package dev.tally.plugins.mirostat;

import dev.tally.spi.SequenceState;

/**
 * Mirostat's per-sequence state: μ, the maximum surprise (in bits) a token may have to stay a
 * candidate, which starts at 2τ and learns from every token the selector draws.
 *
 * <p>{@link MirostatSelector} notes the token it drew and that token's surprise here; when the
 * engine then {@link #accept accepts} that token, μ moves by {@code −η·(surprise − τ)}, exactly
 * llama.cpp's update. A token the model server placed itself was never drawn, so it leaves μ
 * alone (llama.cpp's Mirostat never sees such tokens either).
 */
final class MuState implements SequenceState {
  private final float tau;
  private final float eta;
  private float mu;
  private int drawn = -1;
  private float surprise;

  MuState(float tau, float eta) {
    this.tau = tau;
    this.eta = eta;
    this.mu = 2f * tau;
  }

  private MuState(MuState other) {
    this.tau = other.tau;
    this.eta = other.eta;
    this.mu = other.mu;
    this.drawn = other.drawn;
    this.surprise = other.surprise;
  }

  float mu() {
    return mu;
  }

  /** The selector drew {@code token}, whose surprise in the distribution it drew from was that. */
  void drew(int token, float observedSurprise) {
    this.drawn = token;
    this.surprise = observedSurprise;
  }

  @Override
  public void accept(int tokenId) {
    if (tokenId == drawn) {
      mu = mu - eta * (surprise - tau);
    }
    drawn = -1;
  }

  @Override
  public void reset() {
    mu = 2f * tau;
    drawn = -1;
  }

  @Override
  public MuState copy() {
    return new MuState(this);
  }
}
