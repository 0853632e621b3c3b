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
 * <p>Stages that remember something between the steps of one sequence implement {@link
 * dev.tally.spi.StatefulProcessor} or {@link dev.tally.spi.StatefulSelector}: the server keeps one
 * {@link dev.tally.spi.SequenceState} per sequence (accept, reset, copy) and frees it with the
 * sequence.
 *
 * <p>Isolation: each plugin gets its own class loader, which sees the JDK, its own jars and, from
 * the server, only the {@code dev.tally.spi} package; every call into plugin code runs with that
 * loader as the thread's context class loader. A plugin's exceptions fail only the row it was
 * working on.
 *
 * <p>The built-in processors (temperature, top-k, top-p, penalties, ...) are registered through
 * exactly this SPI: a plugin is never second-class. See {@code docs/plugins.md} for a walk-through
 * from an empty folder to a deployed jar.
 */
package dev.tally.spi;
