// AWS's event-ruler as a test peer (test/peers/event-ruler.ts): one JSON request per line on stdin, one JSON answer
// per line on stdout, in order. Requests:
//   {"op":"check","pattern":P,"event":E}
//       P is the pattern's JSON text (a string, so repeated keys reach event-ruler as written) or a JSON object;
//       E the event's JSON text. A fresh Machine holds only that pattern and answers rulesForJSONEvent(E):
//       {"ok":true,"match":bool} | {"ok":false,"stage":"pattern"|"event","error":message}
//   {"op":"lines","id":K,"lines":[E,...]}
//       keeps the lines under K, for benches that name them instead of sending them again: {"ok":true}
//   {"op":"bench","rules":[{"name":N,"pattern":P}],"lines":[E,...] or K,"rounds":R}
//       one Machine with the rules, one warm-up pass over the lines, then R timed passes:
//       {"ok":true,"rounds":[{"events","nanos","cpuNanos","matches"}, ...]} (cpuNanos: this thread's CPU time)
//   {"op":"numbers","lexemes":[L,...]}
//       {"ok":true,"comparable":[bool,...]}: whether event-ruler compares each number lexeme by value (a finite double
//       whose Double.toString is the same decimal, as its ComparableNumber requires) or only as text
//   {"op":"version"}  {"ok":true,"runtime":"Java <version>"}
// A bad request answers {"ok":false,"error":message}; the process never exits on one. Answers are flushed when no
// more input is waiting, so a client may pipeline many requests.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import software.amazon.event.ruler.Machine;

public final class Ruler {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, List<String>> LINES = new HashMap<>();

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20);
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    String line;
    while ((line = in.readLine()) != null) {
      ObjectNode answer = JSON.createObjectNode();
      try {
        JsonNode request = JSON.readTree(line);
        switch (request.path("op").asText()) {
          case "check" -> check(request, answer);
          case "bench" -> bench(request, answer);
          case "lines" -> {
            LINES.put(request.path("id").asText(), linesOf(request.path("lines")));
            answer.put("ok", true);
          }
          case "numbers" -> numbers(request, answer);
          case "version" -> answer.put("ok", true).put("runtime", "Java " + System.getProperty("java.version"));
          default -> answer.put("ok", false).put("error", "unknown op " + request.path("op"));
        }
      } catch (Exception | StackOverflowError e) {
        answer.removeAll();
        answer.put("ok", false).put("error", String.valueOf(e));
      }
      out.println(JSON.writeValueAsString(answer));
      if (!in.ready()) out.flush();
    }
    out.flush();
  }

  /** The pattern's JSON text: a string is the text itself, anything else is written out as JSON. */
  private static String patternText(JsonNode pattern) throws Exception {
    return pattern.isTextual() ? pattern.asText() : JSON.writeValueAsString(pattern);
  }

  private static void check(JsonNode request, ObjectNode answer) throws Exception {
    Machine machine = new Machine();
    try {
      machine.addRule("rule", patternText(request.path("pattern")));
    } catch (Exception | StackOverflowError e) {
      answer.put("ok", false).put("stage", "pattern").put("error", String.valueOf(e));
      return;
    }
    List<String> matched;
    try {
      matched = machine.rulesForJSONEvent(request.path("event").asText());
    } catch (Exception | StackOverflowError e) {
      answer.put("ok", false).put("stage", "event").put("error", String.valueOf(e));
      return;
    }
    answer.put("ok", true).put("match", !matched.isEmpty());
  }

  private static void numbers(JsonNode request, ObjectNode answer) {
    ArrayNode comparable = answer.put("ok", true).putArray("comparable");
    for (JsonNode lexeme : request.path("lexemes")) {
      boolean yes;
      try {
        BigDecimal exact = new BigDecimal(lexeme.asText());
        double d = exact.doubleValue();
        yes = Double.isFinite(d) && BigDecimal.valueOf(d).compareTo(exact) == 0;
      } catch (NumberFormatException e) {
        yes = false;
      }
      comparable.add(yes);
    }
  }

  private static void bench(JsonNode request, ObjectNode answer) throws Exception {
    Machine machine = new Machine();
    for (JsonNode rule : request.path("rules")) {
      machine.addRule(rule.path("name").asText(), patternText(rule.path("pattern")));
    }
    JsonNode given = request.path("lines");
    List<String> lines = given.isTextual() ? LINES.get(given.asText()) : linesOf(given);
    if (lines == null) throw new IllegalArgumentException("no lines kept under " + given.asText());
    int rounds = Math.max(1, Math.min(1000, request.path("rounds").asInt(1)));
    for (String l : lines) machine.rulesForJSONEvent(l);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    ArrayNode results = answer.put("ok", true).putArray("rounds");
    for (int r = 0; r < rounds; r++) {
      long cpu = threads.getCurrentThreadCpuTime();
      long start = System.nanoTime();
      long matches = 0;
      for (String l : lines) matches += machine.rulesForJSONEvent(l).size();
      long nanos = System.nanoTime() - start;
      long cpuNanos = threads.getCurrentThreadCpuTime() - cpu;
      results.addObject()
          .put("events", lines.size())
          .put("nanos", nanos)
          .put("cpuNanos", cpuNanos)
          .put("matches", matches);
    }
  }

  private static List<String> linesOf(JsonNode array) {
    List<String> lines = new ArrayList<>();
    for (JsonNode l : array) lines.add(l.asText());
    return lines;
  }
}
