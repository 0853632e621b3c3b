package dev.tally.server.cli;

/** Sets slf4j-simple up for a console: time, level and logger on one short line, to stderr. */
final class Logging {
  private Logging() {}

  static void configure() {
    setDefault("org.slf4j.simpleLogger.defaultLogLevel", "info");
    setDefault("org.slf4j.simpleLogger.showDateTime", "true");
    setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
    setDefault("org.slf4j.simpleLogger.showThreadName", "false");
    setDefault("org.slf4j.simpleLogger.log.io.grpc", "warn");
    setDefault("org.slf4j.simpleLogger.log.io.netty", "warn");
    // grpc-netty asks every channel for SO_KEEPALIVE, which Unix sockets do not have.
    setDefault("org.slf4j.simpleLogger.log.io.netty.bootstrap", "error");
  }

  private static void setDefault(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
