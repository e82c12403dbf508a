/**
 * Prometheus metrics of one daemon. The registry is created per instance (never prom-client's global
 * default), so two daemons in one test process, or a restarted pipeline, do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface DaemonMetricsOptions {
  /** Also export process metrics (CPU, memory, event-loop lag) with the `faceedge_` prefix. Default true. */
  readonly processMetrics?: boolean;
  /** Histogram buckets for stage latency, seconds. Default 0.5 ms … 1 s. */
  readonly stageBuckets?: readonly number[];
}

const DEFAULT_STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class DaemonMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();

  readonly #framesIn: Counter<'camera'>;
  readonly #framesDropped: Counter<'camera'>;
  readonly #stageSeconds: Histogram<'stage' | 'camera'>;
  readonly #faces: Counter<'camera'>;
  readonly #events: Counter<'camera' | 'type'>;
  readonly #queueDepth: Gauge;
  readonly #outboxDropped: Counter;
  readonly #outboxRefused: Counter;
  readonly #brokerConnected: Gauge;
  readonly #recognitionErrors: Counter<'camera' | 'kind'>;

  constructor(options: DaemonMetricsOptions = {}) {
    const registers = [this.registry];
    this.#framesIn = new Counter({
      name: 'faceedge_frames_total',
      help: 'Frames produced by each camera',
      labelNames: ['camera'],
      registers,
    });
    this.#framesDropped = new Counter({
      name: 'faceedge_frames_dropped_total',
      help: 'Frames skipped because inference was busy (latest frame wins)',
      labelNames: ['camera'],
      registers,
    });
    this.#stageSeconds = new Histogram({
      name: 'faceedge_stage_duration_seconds',
      help: 'Time spent per pipeline stage',
      labelNames: ['stage', 'camera'],
      buckets: [...(options.stageBuckets ?? DEFAULT_STAGE_BUCKETS)],
      registers,
    });
    this.#faces = new Counter({
      name: 'faceedge_faces_detected_total',
      help: 'Faces detected (per frame)',
      labelNames: ['camera'],
      registers,
    });
    this.#events = new Counter({
      name: 'faceedge_events_total',
      help: 'Track events emitted, by type',
      labelNames: ['camera', 'type'],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'faceedge_mqtt_queue_depth',
      help: 'Events in the outbox not yet acknowledged by the broker',
      registers,
    });
    this.#outboxDropped = new Counter({
      name: 'faceedge_mqtt_outbox_dropped_total',
      help: 'Undelivered events dropped because the outbox was full',
      registers,
    });
    this.#outboxRefused = new Counter({
      name: 'faceedge_mqtt_outbox_refused_total',
      help: 'Events the broker refused for good (MQTT 5 PUBACK reason code) and that were dropped, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#brokerConnected = new Gauge({
      name: 'faceedge_mqtt_connected',
      help: '1 while connected to the MQTT broker',
      registers,
    });
    this.#recognitionErrors = new Counter({
      name: 'faceedge_recognition_errors_total',
      help: 'Frames whose recognition failed (their events went out without it), by error kind',
      labelNames: ['camera', 'kind'],
      registers,
    });
    this.#brokerConnected.set(0);
    this.#queueDepth.set(0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'faceedge_' });
  }

  /** One frame produced by `camera`. */
  countFrame(camera: string): void {
    this.#framesIn.inc({ camera });
  }

  /** `n` frames of `camera` skipped (default 1). */
  countDroppedFrames(camera: string, n = 1): void {
    this.#framesDropped.inc({ camera }, n);
  }

  /**
   * Duration of one stage, in milliseconds (exported in seconds, the Prometheus unit). The stage names are
   * whatever the caller times (the pipeline's are `PIPELINE_STAGES`, src/pipeline/pipeline.ts).
   */
  observeStage(stage: string, ms: number, camera = ''): void {
    this.#stageSeconds.observe({ stage, camera }, ms / 1000);
  }

  /** `n` faces detected in one frame of `camera`. */
  countFaces(camera: string, n: number): void {
    if (n > 0) this.#faces.inc({ camera }, n);
  }

  /** One track event of `type` from `camera`. */
  countEvent(camera: string, type: string): void {
    this.#events.inc({ camera, type });
  }

  /**
   * Recognition of one frame of `camera` failed. `kind`: the FaceedgeError code, or the error's class name
   * (a bounded set: the log names the kind once, this counts every frame).
   */
  countRecognitionError(camera: string, kind: string): void {
    this.#recognitionErrors.inc({ camera, kind });
  }

  /** Events waiting in the outbox. */
  setQueueDepth(depth: number): void {
    this.#queueDepth.set(depth);
  }

  /** `n` undelivered events dropped from a full outbox. */
  countOutboxDropped(n: number): void {
    if (n > 0) this.#outboxDropped.inc(n);
  }

  /** One event the broker refused for good and that was dropped (`reason`: `not_authorized`, …). */
  countOutboxRefused(reason: string): void {
    this.#outboxRefused.inc({ reason });
  }

  setBrokerConnected(connected: boolean): void {
    this.#brokerConnected.set(connected ? 1 : 0);
  }

  /** Content-Type of `metricsText()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}
