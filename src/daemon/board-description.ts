/**
 * What the board says about itself, gathered fresh from the services on each call: `bridge/info` (retained,
 * republished on every connect and after a model or options change) and the health facts behind `/healthz`,
 * the `health_check` command and the systemd watchdog.
 */
import type { FaceedgeConfig } from '../config/config-schema.js';
import { redactConfig } from '../config/redact-config.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import type { BridgeInfo } from '../mqtt/mqtt-payloads.js';
import type { HealthFacts } from '../observability/health-report.js';
import type { DaemonServices } from './daemon-services.js';
import { servedFrom } from './model-updates.js';

/** What `bridge/info` says of one serving model: id, sha256, labels and decision, and how it got there. */
function modelFacts(classifier: FaceClassifier, storeDir: string): NonNullable<BridgeInfo['model']> {
  return {
    id: classifier.id,
    sha256: classifier.sha256,
    labels: classifier.manifest.labels,
    threshold: classifier.threshold,
    ...(classifier.manifest.labels.length > 2
      ? { temperature: classifier.softmax.temperature, unsure_floor: classifier.softmax.unsureFloor }
      : {}),
    flip_average: classifier.flipAverage,
    ...servedFrom(classifier.modelPath, storeDir),
  };
}

/**
 * The `bridge/info` payload: version, tags, the serving model and how it got there, delegates, cameras, options,
 * config.
 */
export function describeBridge(s: DaemonServices, config: FaceedgeConfig): BridgeInfo {
  const classifier = s.classifier.current;
  return {
    version: s.version,
    tags: config.device.tags,
    model: modelFacts(classifier, config.models.dir),
    // Every model per face by name (`classifiers:`), the first one first (it is `model`), each from its own store.
    models: s.classifiers.models.map((m) => ({ name: m.name, ...modelFacts(m.holder.current, m.storeDir) })),
    delegate: { active: classifier.delegate.active, fallback_reason: classifier.delegate.fallbackReason ?? null },
    detector: { model: config.detector.model, delegate: s.detector.delegate.active },
    cameras: s.cameras.names,
    options: s.tuning.current,
    config: redactConfig(config),
  };
}

/** The facts readiness is judged on (src/observability/health-report.ts). */
export function healthFacts(s: DaemonServices, started: boolean): HealthFacts {
  const now = performance.now();
  const classifier = s.classifier.current;
  const cameras = s.cameras.runners;
  return {
    started,
    broker_connected: s.mqtt.connected,
    broker_problem: s.mqtt.brokerProblem,
    // A camera paused by a rule delivers no frames on purpose; it must not make the board "not ready".
    last_frame_age_ms: Object.fromEntries(
      cameras
        .filter((c) => !c.paused)
        .map((c) => [c.name, c.lastFrameAt === null ? null : Math.round(now - c.lastFrameAt)]),
    ),
    paused_cameras: cameras.filter((c) => c.paused).map((c) => c.name),
    model: { id: classifier.id, sha256: classifier.sha256, delegate: classifier.delegate.active },
    models: s.classifiers.models.map((m) => ({
      name: m.name,
      id: m.holder.current.id,
      sha256: m.holder.current.sha256,
    })),
  };
}
