package dev.tally.core;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The Tally release, from a resource the build fills in. */
public final class TallyVersion {
  private static final String VERSION = load();

  private TallyVersion() {}

  public static String get() {
    return VERSION;
  }

  private static String load() {
    try (InputStream in = TallyVersion.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
