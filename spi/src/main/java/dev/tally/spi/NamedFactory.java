package dev.tally.spi;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What processor and selector factories share: a stable name, a description and a declarative
 * parameter schema.
 *
 * <p>The server validates a request's parameters against {@link #params()} before calling {@link
 * #create}; {@code create} therefore receives only declared parameters, each of its declared type,
 * in range, with defaults filled in. {@code create} runs once per request (stateless {@code Sample})
 * or once per sequence ({@code Session}), never per token: it may do real work.
 *
 * @param <T> what the factory creates
 */
public interface NamedFactory<T> {
  /** The form every name must have: lower case, digits and underscores, starting with a letter. */
  Pattern NAME = Pattern.compile("[a-z][a-z0-9_]*");

  /** The name requests use; stable across releases, unique across all plugins. */
  String name();

  /** One sentence for the catalogue: what the stage does and which anchor it matches. */
  String description();

  /** The parameters, in the order the catalogue shows them. */
  List<ParamSpec> params();

  /**
   * Creates the stage for one request or sequence.
   *
   * @throws IllegalArgumentException when the combination of parameters is invalid in a way the
   *     schema cannot express; the message is returned to the client
   */
  T create(Params params);
}
