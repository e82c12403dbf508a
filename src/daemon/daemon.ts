/**
 * The composition root of `faceedge run`. It builds the services the parts share (broker, detector,
 * serving classifier, MQTT connection, cameras: src/daemon/daemon-services.ts), then the parts that make up
 * the board from their config slices, registers the bridge commands they declare, starts them in the
 * order of `DAEMON_PARTS` and stops everything in reverse. It knows no feature itself: adding one is adding
 * its part to `DAEMON_PARTS` (docs/architecture.md).
 *
 * A frame's walk: a camera's source → its pipeline (detect, align, classify, track) → `trackEvents` on the
 * bus → the MQTT part (journal, outbox, broker), the GPIO rules, the live view.
 */
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import type { FaceedgeError } from '../errors.js';
import type { HealthFacts } from '../observability/health-report.js';
import { componentLogger } from '../observability/logger.js';
import { DaemonMetrics } from '../observability/metrics.js';
import { redactUrl } from '../observability/redact-url.js';
import { DaemonBus } from './daemon-bus.js';
import type { DaemonPart, PartFactory } from './daemon-part.js';
import { DaemonParts } from './daemon-parts.js';
import type { DaemonServices } from './daemon-services.js';
import { startServices } from './start-services.js';
import { boardCommandsPart } from './parts/board-commands-part.js';
import { camerasPart } from './parts/cameras-part.js';
import { gpioRulesPart } from './parts/gpio-rules-part.js';
import { homeAssistantPart } from './parts/home-assistant-part.js';
import { httpPart } from './parts/http-part.js';
import { modelUpdatesPart } from './parts/model-updates-part.js';
import { mqttEventsPart } from './parts/mqtt-events-part.js';
import { recognitionPart } from './parts/recognition-part.js';
import { statsPart } from './parts/stats-part.js';

/**
 * The parts of the board, in start order; they stop in reverse. MQTT connects first so that every later
 * part's retained state goes out on connect; GPIO outputs are safe and input-gated cameras paused before
 * any camera runs; the cameras start once everything they feed is up; the stats report on running cameras.
 */
export const DAEMON_PARTS: readonly PartFactory[] = [
  mqttEventsPart,
  gpioRulesPart,
  homeAssistantPart,
  modelUpdatesPart,
  boardCommandsPart,
  httpPart,
  recognitionPart,
  camerasPart,
  statsPart,
];

export interface DaemonOptions {
  readonly config: FaceedgeConfig;
  readonly log: Logger;
  readonly version: string;
  /** Environment of helper processes (the libgpiod tools are found on its PATH). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs once the broker is known and before any camera starts (the demo's event printer subscribes here). */
  readonly beforeCameras?: (brokerUrl: string) => Promise<void>;
}

/** Before start, or after a start that failed before its services were up. */
const NOT_STARTED: HealthFacts = {
  started: false,
  broker_connected: false,
  broker_problem: null,
  last_frame_age_ms: {},
  paused_cameras: [],
  model: null,
};

export class Daemon {
  readonly metrics = new DaemonMetrics();
  readonly #o: DaemonOptions;
  /** Every started service and part, for stopping in reverse order. */
  readonly #parts = new DaemonParts();
  #services: DaemonServices | null = null;
  /** The parts built by the last start, by name. */
  #built = new Map<string, DaemonPart>();
  #started = false;
  #stopping: Promise<void> | null = null;

  constructor(options: DaemonOptions) {
    this.#o = options;
  }

  /**
   * Starts the services, then the parts in `DAEMON_PARTS` order, each recorded once it is up so that
   * `stop()` takes down exactly what started, in reverse.
   */
  async start(): Promise<void> {
    const { config, log } = this.#o;
    const bus = new DaemonBus(componentLogger(log, 'daemon'));
    const services = await startServices(
      {
        config,
        log,
        version: this.#o.version,
        env: this.#o.env ?? {},
        metrics: this.metrics,
        bus,
        started: () => this.#started,
        beforeCameras: this.#o.beforeCameras,
      },
      this.#parts,
    );
    this.#services = services;
    const parts = DAEMON_PARTS.flatMap((factory) => {
      const part = factory.build(config, { log, bus, services });
      return part ? [{ name: factory.name, part }] : [];
    });
    this.#built = new Map(parts.map(({ name, part }) => [name, part]));
    // Every command is answerable from the first connect; one whose part is not up yet says so.
    for (const { part } of parts)
      for (const [command, handler] of Object.entries(part.commands ?? {}))
        services.mqtt.bridge.register(command, handler);
    for (const { name, part } of parts) {
      await part.start?.();
      this.#parts.started(name, part, (p: DaemonPart) => p.stop?.());
    }
    this.#started = true;
    log.info(
      {
        cameras: services.cameras.names,
        broker: redactUrl(services.brokerUrl),
        ...Object.fromEntries(parts.flatMap(({ part }) => Object.entries(part.summary?.() ?? {}))),
        model: services.classifier.current.id,
        parts: this.#parts.names,
      },
      'faceedge running',
    );
  }

  /**
   * The port of `/healthz`, `/metrics` and the live view (the HTTP part's, once listening: it starts before the
   * cameras, so `beforeCameras` can print it); 0 while that part is off or not started.
   */
  get healthPort(): number {
    const port = this.#built.get(httpPart.name)?.summary?.().health_port;
    return typeof port === 'number' ? port : 0;
  }

  /** Resolves when every camera source has ended (never, for live cameras). */
  get camerasDone(): Promise<void> {
    return this.#services?.cameras.done ?? Promise.resolve();
  }

  /** Cameras whose source could not start, with the reason (a typed error). */
  get failedCameras(): ReadonlyMap<string, FaceedgeError> {
    return this.#services?.cameras.failed ?? new Map();
  }

  healthFacts(): HealthFacts {
    return this.#services?.health() ?? NOT_STARTED;
  }

  /** Stops every started part and service in reverse order of start (see `start`). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#started = false;
    await this.#parts.stopAll(this.#o.log);
    this.#o.log.info('faceedge stopped');
  }
}
