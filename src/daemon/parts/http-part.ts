/**
 * The board's HTTP side, as a part (with `http.port` > 0): `/healthz` and `/metrics`
 * (src/observability/health-server.ts) and the live view on `/live/` (src/live-view/), one server. The live
 * view only watches: it hears the track events, the processed frames, the capture status, the rules'
 * actions and the GPIO lines on the bus, and reads the services for its board panel.
 */
import type { HttpConfig } from '../../config/config-schema.js';
import { boardFacts } from '../../live-view/board-facts.js';
import { LiveEnrolment } from '../../live-view/live-enrolment.js';
import { LiveViewRoutes } from '../../live-view/live-view-routes.js';
import { LiveView } from '../../live-view/live-view.js';
import { HealthServer } from '../../observability/health-server.js';
import { componentLogger } from '../../observability/logger.js';
import type { DaemonBus } from '../daemon-bus.js';
import { definePart, type DaemonPart, type PartContext } from '../daemon-part.js';

interface HttpSlice {
  readonly http: HttpConfig;
  readonly device: string;
  /** `detector.model`, for the board panel. */
  readonly detectorModel: string;
}

/** Every GPIO line's latest state as the bus told it, outputs and inputs in the order they were opened. */
function gpioLines(bus: DaemonBus) {
  const lines = { output: new Map<string, boolean | null>(), input: new Map<string, boolean | null>() };
  bus.on('gpioLine', (line) => void lines[line.kind].set(line.name, line.on));
  const list = (m: Map<string, boolean | null>) => [...m].map(([name, on]) => ({ name, on }));
  return () => ({ outputs: list(lines.output), inputs: list(lines.input) });
}

class HttpPart implements DaemonPart {
  readonly #live: LiveView;
  readonly #server: HealthServer;

  constructor(slice: HttpSlice, { bus, services, log }: PartContext) {
    const { http } = slice;
    const liveLog = componentLogger(log, 'live-view');
    this.#live = new LiveView({
      cameras: services.cameras.runners,
      board: boardFacts({
        version: services.version,
        device: slice.device,
        classifier: () => services.classifier.current,
        brokerUrl: () => services.brokerUrl,
        detector: () => ({ model: slice.detectorModel, delegate: services.detector.delegate.active }),
        mqtt: () => services.mqtt,
        gpio: gpioLines(bus),
      }),
      labels: () => services.classifier.current.labels,
      snapshots: http.snapshots,
      log: liveLog,
    });
    const live = this.#live;
    bus.on('trackEvents', (camera, events) => live.events(camera, events));
    bus.on('frame', (camera, frame) => live.frame(camera, frame));
    bus.on('captureStatus', (camera, status) => live.captureStatus(camera, status));
    bus.on('ruleAction', (payload) => live.ruleAction(payload));
    const enrolment = new LiveEnrolment({
      gallery: services.gallery,
      authConfigured: http.auth !== undefined,
      enrolUsers: http.enrol_users,
      tracks: (camera) => services.cameras.runners.find((c) => c.name === camera)?.visibleTracks(),
      audit: (origin, entry) => services.audit.record(origin, entry),
      log: liveLog,
    });
    if (services.gallery) bus.on('frame', (camera, frame) => enrolment.frame(camera, frame));
    const routes = new LiveViewRoutes({ live, auth: http.auth, log: liveLog, enrolment });
    this.#server = new HealthServer({
      host: http.host,
      port: http.port,
      health: services.health,
      metrics: services.metrics,
      log: componentLogger(log, 'http'),
      routes: (req, res) => routes.handle(req, res),
    });
  }

  start(): Promise<void> {
    return this.#server.start();
  }

  async stop(): Promise<void> {
    this.#live.close();
    await this.#server.stop();
  }

  summary() {
    return { health_port: this.#server.port };
  }
}

export const httpPart = definePart({
  name: 'http',
  slice: (config): HttpSlice | null =>
    config.http.port > 0 ? { http: config.http, device: config.device.id, detectorModel: config.detector.model } : null,
  create: (slice, context) => new HttpPart(slice, context),
});
