/**
 * Publishes `faceedge/<dev>/stats` periodically, as a part: frames per second per camera and the mean time
 * of each pipeline stage over the period, from the cameras' own counters; the classifier's delegate; the CPU
 * temperature; and the MQTT connection's own figures (outbox depth, events stored, online since).
 */
import type { MqttOutput } from '../../mqtt/mqtt-output.js';
import type { StatsInput, StatsPayload } from '../../mqtt/mqtt-payloads.js';
import { readCpuTemperatureC } from '../../observability/cpu-temperature.js';
import type { CameraRunner } from '../camera-runner.js';
import { definePart, type DaemonPart } from '../daemon-part.js';

/** What the stats read and publish through of the MQTT connection. */
export type StatsConnection = Pick<
  MqttOutput,
  'connected' | 'queueDepth' | 'refusedEvents' | 'storedEvents' | 'onlineSince' | 'topics' | 'publish'
>;

/**
 * Publishes `stats` (QoS 0, retained so that `faceedge fleet status` sees every board's last report at once):
 * `stats` plus the CPU temperature, the outbox depth and the event counters. Skipped while the broker is
 * away: the next period sends fresh figures.
 * @param readCpuTemperature °C or null. Default: the kernel's thermal zones.
 */
export function publishStats(
  mqtt: StatsConnection,
  stats: StatsInput,
  readCpuTemperature: () => number | null = readCpuTemperatureC,
): void {
  if (!mqtt.connected) return;
  const counts = [...mqtt.storedEvents];
  const payload: StatsPayload = {
    ...stats,
    cpu_temperature_c: readCpuTemperature(),
    queue_depth: mqtt.queueDepth,
    events_refused_total: Object.fromEntries(mqtt.refusedEvents),
    events_total: Object.fromEntries(counts.map(([camera, c]) => [camera, c.total])),
    last_event_time: Object.fromEntries(counts.map(([camera, c]) => [camera, c.last])),
    online_since: mqtt.onlineSince,
    time: Date.now() / 1000,
  };
  // A report lost to a connection dropping right now is replaced by the next period's.
  mqtt.publish(mqtt.topics.stats, JSON.stringify(payload), { qos: 0, retain: true }).catch(() => undefined);
}

export interface StatsReporterOptions {
  readonly cameras: readonly CameraRunner[];
  readonly delegate: () => string;
  readonly publish: (stats: StatsInput) => void;
  /** Period, ms. */
  readonly intervalMs: number;
}

export class StatsReporter implements DaemonPart {
  #timer: NodeJS.Timeout | null = null;
  #lastAt = performance.now();
  #lastFrames = new Map<string, number>();

  readonly #o: StatsReporterOptions;

  constructor(o: StatsReporterOptions) {
    this.#o = o;
  }

  start(): void {
    this.#lastAt = performance.now();
    for (const c of this.#o.cameras) this.#lastFrames.set(c.name, c.frames);
    this.#timer = setInterval(() => this.#o.publish(this.collect()), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Stats since the previous call (or start). */
  collect(): StatsInput {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const fps: Record<string, number> = {};
    const totals: Record<string, { ms: number; n: number }> = {};
    for (const c of this.#o.cameras) {
      fps[c.name] = Math.round(((c.frames - (this.#lastFrames.get(c.name) ?? 0)) / seconds) * 10) / 10;
      this.#lastFrames.set(c.name, c.frames);
      for (const [stage, t] of Object.entries(c.takeStageTotals())) {
        const acc = (totals[stage] ??= { ms: 0, n: 0 });
        acc.ms += t.ms;
        acc.n += t.n;
      }
    }
    const stages_ms = Object.fromEntries(
      Object.entries(totals).map(([stage, t]) => [stage, Math.round((t.ms / t.n) * 100) / 100]),
    );
    const recognitionErrors = Object.fromEntries(this.#o.cameras.map((c) => [c.name, c.recognitionErrors]));
    return { fps, stages_ms, delegate: this.#o.delegate(), recognition_errors_total: recognitionErrors };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

export const statsPart = definePart({
  name: 'stats',
  slice: (config) => ({ intervalMs: config.mqtt.stats_interval_s * 1000 }),
  create: (slice, { services }) =>
    new StatsReporter({
      cameras: services.cameras.runners,
      delegate: () => services.classifier.current.delegate.active,
      publish: (stats) => publishStats(services.mqtt, stats),
      intervalMs: slice.intervalMs,
    }),
});
