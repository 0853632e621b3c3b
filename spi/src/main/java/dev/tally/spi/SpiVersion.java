package dev.tally.spi;

/**
 * The version of this SPI. A plugin built for another major version is refused at start-up; minor
 * versions only add (new default methods, new parameter types).
 */
public final class SpiVersion {
  /** Incompatible changes bump this. */
  public static final int MAJOR = 1;
  /** Compatible additions bump this. */
  public static final int MINOR = 0;
  /** {@code MAJOR.MINOR}, as reported by {@code GetServerInfo}. */
  public static final String CURRENT = MAJOR + "." + MINOR;

  private SpiVersion() {}
}
