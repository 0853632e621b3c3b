package dev.tally.server.cli;

import com.google.protobuf.Value;
import dev.tally.api.v1.ListProcessorsRequest;
import dev.tally.api.v1.ListProcessorsResponse;
import dev.tally.api.v1.ParamInfo;
import dev.tally.api.v1.ProcessorInfo;
import dev.tally.api.v1.ProcessorKind;
import dev.tally.api.v1.SamplerGrpc;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tally processors}: the catalogue of a running server ({@code ListProcessors}) as a table:
 * one line per processor or selector, then one indented line per parameter.
 */
@Command(name = "processors", mixinStandardHelpOptions = true,
    description = "Print the processors and selectors of a running server, with their parameters.")
final class ProcessorsCommand implements Callable<Integer> {
  @Option(names = "--target", paramLabel = "ADDRESS",
      description = "The server: HOST:PORT or unix:PATH (default: ${DEFAULT-VALUE}).")
  String target = "127.0.0.1:50051";

  @Option(names = "--plugin", paramLabel = "NAME",
      description = "Only the stages of this plugin (e.g. builtin, mirostat).")
  String plugin;

  @Option(names = "--no-params", description = "Leave out the parameter lines.")
  boolean noParams;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ListProcessorsResponse response;
    try (Target t = Target.connect(target)) {
      response = SamplerGrpc.newBlockingStub(t.channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .listProcessors(ListProcessorsRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      err.println("tally processors: " + target + ": " + e.getStatus().getCode() + " "
          + (e.getStatus().getDescription() == null ? "" : e.getStatus().getDescription()));
      err.flush();
      return 1;
    } catch (IllegalArgumentException e) {
      err.println("tally processors: " + e.getMessage());
      err.flush();
      return 2;
    }
    List<ProcessorInfo> shown = new ArrayList<>();
    for (ProcessorInfo p : response.getProcessorsList()) {
      if (plugin == null || plugin.equals(p.getPlugin())) {
        shown.add(p);
      }
    }
    print(shown, !noParams, out);
    return 0;
  }

  /** The table. Column widths fit the longest entry. */
  static void print(List<ProcessorInfo> processors, boolean params, PrintWriter out) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"NAME", "KIND", "PLUGIN", "VERSION", "DESCRIPTION"});
    for (ProcessorInfo p : processors) {
      rows.add(new String[] {p.getName(), kind(p.getKind()), p.getPlugin(), p.getVersion(),
          p.getDescription()});
    }
    int[] width = new int[4];
    for (String[] r : rows) {
      for (int i = 0; i < width.length; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    for (int i = 0; i < rows.size(); i++) {
      String[] r = rows.get(i);
      out.println(String.format(Locale.ROOT, "%-" + width[0] + "s  %-" + width[1] + "s  %-"
          + width[2] + "s  %-" + width[3] + "s  %s", r[0], r[1], r[2], r[3], r[4]).stripTrailing());
      if (params && i > 0) {
        for (ParamInfo info : processors.get(i - 1).getParamsList()) {
          out.println("    " + param(info));
        }
      }
    }
    out.println(processors.size() + (processors.size() == 1 ? " stage" : " stages"));
    out.flush();
  }

  /** One parameter: {@code name (type) required default=… min=… max=… one of …: description}. */
  static String param(ParamInfo p) {
    StringBuilder b = new StringBuilder();
    b.append(p.getName()).append(" (").append(p.getType()).append(")");
    if (p.getRequired()) {
      b.append(" required");
    }
    if (p.hasDefaultValue()) {
      b.append(" default=").append(value(p.getDefaultValue()));
    }
    // ParamInfo carries bounds without their inclusiveness; the description says more.
    if (p.hasMinimum()) {
      b.append(" min=").append(number(p.getMinimum()));
    }
    if (p.hasMaximum()) {
      b.append(" max=").append(number(p.getMaximum()));
    }
    if (p.getAllowedValuesCount() > 0) {
      b.append(" one of ").append(String.join("|", p.getAllowedValuesList()));
    }
    if (!p.getDescription().isEmpty()) {
      b.append(": ").append(p.getDescription());
    }
    return b.toString();
  }

  private static String kind(ProcessorKind kind) {
    return kind == ProcessorKind.SELECTOR ? "selector" : kind == ProcessorKind.PROCESSOR
        ? "processor" : "?";
  }

  private static String value(Value v) {
    switch (v.getKindCase()) {
      case NUMBER_VALUE:
        return number(v.getNumberValue());
      case BOOL_VALUE:
        return Boolean.toString(v.getBoolValue());
      case STRING_VALUE:
        return "\"" + v.getStringValue() + "\"";
      case LIST_VALUE: {
        List<String> parts = new ArrayList<>();
        v.getListValue().getValuesList().forEach(x -> parts.add(value(x)));
        return "[" + String.join(",", parts) + "]";
      }
      case STRUCT_VALUE: {
        List<String> parts = new ArrayList<>();
        v.getStructValue().getFieldsMap().forEach((k, x) -> parts.add(k + ":" + value(x)));
        return "{" + String.join(",", parts) + "}";
      }
      default:
        return "null";
    }
  }

  private static String number(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
  }
}
