/**
 * What the daemon's parts share, built before any part (src/daemon/start-services.ts): the broker in use,
 * the detector and the serving classifier (native models, loaded once for every camera), the MQTT
 * connection and its audit trail, the track journal, the run-time thresholds and the cameras. Services are
 * never null: a part gets them ready to use, and what needs starting (the MQTT connection, the cameras) is
 * started by the part whose job that is, in its turn.
 */
import type { FaceDetector } from '../inference/face-detector.js';
import type { BoardGallery } from '../recognition/board-gallery.js';
import type { AuditTrail } from '../mqtt/audit-trail.js';
import type { MqttOutput } from '../mqtt/mqtt-output.js';
import type { HealthFacts } from '../observability/health-report.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import type { TrackJournal } from '../pipeline/track-journal.js';
import type { CameraSet } from './camera-set.js';
import type { SharedEmbedder } from './shared-embedder.js';
import type { ClassifierHolder } from './classifier-holder.js';
import type { ClassifierSet } from './classifier-set.js';
import type { RunTimeTuning } from './run-time-tuning.js';

export interface DaemonServices {
  /** faceedge's version (bridge/info, Home Assistant, the live view). */
  readonly version: string;
  /** `device.id`. */
  readonly deviceId: string;
  /** The broker in use: `mqtt.url`, or the embedded broker's address. */
  readonly brokerUrl: string;
  /** Environment of helper processes (the libgpiod tools are found on its PATH). */
  readonly env: NodeJS.ProcessEnv;
  readonly metrics: DaemonMetrics;
  /**
   * The MQTT connection: publish, retained states, subscriptions. The MQTT part connects it first and closes it last.
   */
  readonly mqtt: MqttOutput;
  /**
   * Where every request that changes the board is recorded, accepted or refused: a log line and an `audit`
   * message (src/mqtt/audit-trail.ts). Bridge requests are recorded by the dispatcher; a part that takes
   * requests on its own topics (GPIO set, model push, the gallery) records them with the origin its MQTT
   * handler is given.
   */
  readonly audit: AuditTrail;
  readonly detector: FaceDetector;
  /** The classifier serving now; `reload` swaps it (one swap at a time, told on the bus as `modelChanged`). */
  readonly classifier: ClassifierHolder;
  /**
   * The board's gallery of known faces (src/daemon/board-gallery-service.ts): enrol, remove, list, merge, each
   * change told on the bus as `galleryChanged`. Null while `recognition.enabled` is off.
   */
  readonly gallery: BoardGallery | null;
  /**
   * The board's one face embedder (src/daemon/shared-embedder.ts), loaded on first use: recognition and
   * enrolment share it. Null while `recognition.enabled` is off.
   */
  readonly embedder: SharedEmbedder | null;
  /**
   * Every model per face by name (`classifiers:`), the first being `classifier`; each swaps on its own,
   * told on the bus as `classifierChanged` (and `modelChanged` for the first).
   */
  readonly classifiers: ClassifierSet;
  /** The thresholds in force (bridge `options`). */
  readonly tuning: RunTimeTuning;
  /** What subscribers were told about tracks, across restarts (src/pipeline/track-journal.ts). */
  readonly journal: TrackJournal;
  /** The cameras, built; the cameras part starts them once everything they feed is up. */
  readonly cameras: CameraSet;
  /** The board's health now (`/healthz`, `health_check`, the systemd watchdog). */
  readonly health: () => HealthFacts;
}
