package dev.tally.server.plugin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.StatefulSelector;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenSelector;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every wrapper overrides every method of its SPI interface, default methods included (Trino's
 * {@code assertAllMethodsOverridden}): a method added to the SPI without a wrapper would run
 * plugin code under the server's context class loader, or skip the plugin entirely.
 */
final class ClassLoaderSafeTest {
  private static void assertAllMethodsOverridden(Class<?> iface, Class<?> wrapper) {
    assertThat(iface).isAssignableFrom(wrapper);
    List<String> missing = new ArrayList<>();
    for (Method m : iface.getMethods()) {
      if (Modifier.isStatic(m.getModifiers())) {
        continue;
      }
      try {
        Method declared = wrapper.getDeclaredMethod(m.getName(), m.getParameterTypes());
        if (declared.isBridge()) {
          missing.add(m.toString());
        }
      } catch (NoSuchMethodException e) {
        missing.add(m.toString());
      }
    }
    assertThat(missing).as(wrapper.getSimpleName() + " must override").isEmpty();
  }

  @Test
  void everySpiMethodIsWrapped() {
    assertAllMethodsOverridden(TallyPlugin.class, ClassLoaderSafe.SafePlugin.class);
    assertAllMethodsOverridden(ProcessorFactory.class, ClassLoaderSafe.SafeProcessorFactory.class);
    assertAllMethodsOverridden(SelectorFactory.class, ClassLoaderSafe.SafeSelectorFactory.class);
    assertAllMethodsOverridden(LogitsProcessor.class, ClassLoaderSafe.SafeProcessor.class);
    assertAllMethodsOverridden(StatefulProcessor.class,
        ClassLoaderSafe.SafeStatefulProcessor.class);
    assertAllMethodsOverridden(TokenSelector.class, ClassLoaderSafe.SafeSelector.class);
    assertAllMethodsOverridden(StatefulSelector.class, ClassLoaderSafe.SafeStatefulSelector.class);
    assertAllMethodsOverridden(SequenceState.class, ClassLoaderSafe.SafeState.class);
  }
}
