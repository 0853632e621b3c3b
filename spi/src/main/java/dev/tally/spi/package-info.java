/**
 * The Tally plugin SPI: everything a plugin author compiles against, and nothing else.
 *
 * <p>A plugin is a jar (or a folder of jars) holding one {@link dev.tally.spi.TallyPlugin}
 * implementation, declared in {@code META-INF/services/dev.tally.spi.TallyPlugin}. The plugin
 * hands the server named {@link dev.tally.spi.ProcessorFactory processor} and {@link
 * dev.tally.spi.SelectorFactory selector} factories; a request names them and gives parameters,
 * which the server validates against each factory's {@link dev.tally.spi.ParamSpec parameter
 * schema} before anything runs.
 *
 * <p>Processors work in place on a {@link dev.tally.spi.Candidates} set of primitive arrays: the hot
 * path allocates nothing and boxes nothing. This package depends on the JDK only, so that a plugin
 * may bundle any library at any version without clashing with the server.
 *
 * <p>The built-in processors (temperature, top-k, top-p, penalties, ...) are registered through
 * exactly this SPI: a plugin is never second-class.
 */
package dev.tally.spi;
