import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The latency benchmark's load generator (bench/latency.py): produces pre-encoded events at
 * a fixed rate, as a producer on another machine would, for a few percent of a core.
 *
 * <p>A Python producer cost the probe 0.6 of the 2 cores it shares with the worker, the
 * broker and Redis at 8,000 events/s, so the worker was measured on a full machine. Same
 * settings as Quorum's Python input producer ({@code streams.kafka.plain_producer}): acks
 * all, linger 5 ms, the default (murmur2) partitioner on the event's key.
 *
 * <p>Usage: {@code PacedProducer BOOTSTRAP TOPIC EVENTS_FILE RATE}. The file has one event
 * per line, {@code key TAB value}. Protocol on stdout, each line starting with
 * {@code PACED}: {@code ready} once connected; it then waits for a line on stdin; then
 * {@code start <epoch ms>} (event i is due at start + i / RATE) and finally
 * {@code done <sent> <seconds> <errors>}, and exits at the next line on stdin.
 */
public final class PacedProducer {
    private PacedProducer() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 4) {
            System.err.println("usage: PacedProducer BOOTSTRAP TOPIC EVENTS_FILE RATE");
            System.exit(2);
        }
        String topic = args[1];
        double rate = Double.parseDouble(args[3]);
        List<byte[][]> events = read(Path.of(args[2]));
        // The file's lines are garbage now, and the events live for the whole run: one
        // full collection here, before the clock runs, rather than one during it (a pause
        // of 240 ms that delayed every event due meanwhile).
        System.gc();
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 1024 * 1024);
        config.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 * 1024 * 1024);
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        AtomicLong errors = new AtomicLong();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                config, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.partitionsFor(topic);  // metadata before the clock runs
            System.out.println("PACED ready");
            System.out.flush();
            BufferedReader stdin = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8));
            stdin.readLine();
            long start = System.nanoTime();
            System.out.println("PACED start " + System.currentTimeMillis());
            System.out.flush();
            int sent = 0;
            int total = events.size();
            while (sent < total) {
                long due = Math.min(total, (long) ((System.nanoTime() - start) * rate / 1e9) + 1);
                for (; sent < due; sent++) {
                    byte[][] event = events.get(sent);
                    producer.send(new ProducerRecord<>(topic, event[0], event[1]),
                            (metadata, error) -> {
                                if (error != null) {
                                    errors.incrementAndGet();
                                }
                            });
                }
                long wait = start + (long) (sent * 1e9 / rate) - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
            }
            producer.flush();
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.println("PACED done " + sent + " " + seconds + " " + errors.get());
            System.out.flush();
            stdin.readLine();  // alive until told, so that its CPU time can be read
        }
    }

    private static List<byte[][]> read(Path path) throws IOException {
        List<byte[][]> events = new ArrayList<>();
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
            int tab = line.indexOf('\t');
            events.add(new byte[][] {
                line.substring(0, tab).getBytes(StandardCharsets.UTF_8),
                line.substring(tab + 1).getBytes(StandardCharsets.UTF_8),
            });
        }
        return events;
    }
}
