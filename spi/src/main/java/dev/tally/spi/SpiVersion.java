package dev.tally.spi;

/**
 * The version of this SPI. A plugin built for another major version is refused at start-up; minor
 * versions only add (new default methods, new types, new parameter types).
 *
 * <p>History: 1.0 the first SPI; 1.1 per-sequence state ({@link SequenceState}, {@link
 * StatefulProcessor}, {@link StatefulSelector}) and {@link ParamType#TOKEN_SEQUENCES}; 1.2
 * {@link TopKeys}, the terms-reading {@link VocabKernels} defaults, and the engine's side of
 * {@link Candidates} borrowing the decoded row ({@code restoreShared}, {@code knownTerms}, an
 * argmax in {@code knownStatistics}); 1.3 {@code Candidates.knownTop}, the raw top list that
 * {@code keepTop} answers from; 1.4 probability mass in fixed point ({@code
 * Candidates.weight}, {@code pick}, {@code keepMass} and the weight kernels of {@link
 * VocabKernels}); 1.5 {@link TokenVocabulary}, the request's vocabulary in {@link
 * Params#vocabulary()}, and {@link TokenRejectedException}.
 *
 * <p>The server learns which version a plugin was built for from its jar manifest's {@code
 * Tally-Spi-Version} attribute (the build writes it) or, failing that, from {@link
 * TallyPlugin#spiMajorVersion()}.
 */
public final class SpiVersion {
  /** Incompatible changes bump this. */
  public static final int MAJOR = 1;
  /** Compatible additions bump this. */
  public static final int MINOR = 5;
  /** {@code MAJOR.MINOR}, as reported by {@code GetServerInfo}. */
  public static final String CURRENT = MAJOR + "." + MINOR;

  private SpiVersion() {}
}
