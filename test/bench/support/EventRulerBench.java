// The event-ruler side of `npm run bench -- --only=matching-peer` (test/bench/matching-peer.ts): reads one JSON request
// per line on stdin and answers one JSON line on stdout. Requests:
//   {"op":"lines","id":K,"lines":[text, ...]}                 keeps JSON lines under K
//   {"op":"bench","rules":[{"name":N,"pattern":P}],"lines":K,"cpuMs":M}
//     builds a Machine with the rules, makes one warm-up pass over the lines, then passes until M ms of this thread's
//     CPU time: {"rate": events per CPU-second, "matches": rule matches of the first timed pass}
//   {"op":"version"}                                         {"runtime": "Java <version>"}
// Errors answer {"error": message}; the process never exits on a bad request.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import software.amazon.event.ruler.Machine;

public final class EventRulerBench {
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
          case "lines" -> {
            List<String> lines = new ArrayList<>();
            for (JsonNode l : request.path("lines")) lines.add(l.asText());
            LINES.put(request.path("id").asText(), lines);
            answer.put("count", lines.size());
          }
          case "bench" -> bench(request, answer);
          case "version" -> {
            answer.put("runtime", "Java " + System.getProperty("java.version"));
          }
          default -> answer.put("error", "unknown op");
        }
      } catch (Exception | StackOverflowError e) {
        answer.put("error", String.valueOf(e));
      }
      out.println(JSON.writeValueAsString(answer));
      out.flush();
    }
  }

  private static void bench(JsonNode request, ObjectNode answer) throws Exception {
    List<String> lines = LINES.get(request.path("lines").asText());
    if (lines == null) throw new IllegalArgumentException("no lines under that id");
    Machine machine = new Machine();
    for (JsonNode rule : request.path("rules")) {
      machine.addRule(rule.path("name").asText(), JSON.writeValueAsString(rule.path("pattern")));
    }
    for (String l : lines) machine.rulesForJSONEvent(l);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long budget = request.path("cpuMs").asLong(400) * 1_000_000L;
    long start = threads.getCurrentThreadCpuTime();
    long events = 0;
    long matches = -1;
    long elapsed;
    do {
      long m = 0;
      for (String l : lines) m += machine.rulesForJSONEvent(l).size();
      if (matches < 0) matches = m;
      events += lines.size();
      elapsed = threads.getCurrentThreadCpuTime() - start;
    } while (elapsed < budget);
    answer.put("rate", events / (elapsed / 1e9));
    answer.put("matches", matches);
  }
}
