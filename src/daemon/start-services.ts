/**
 * Builds the services the parts share (src/daemon/daemon-services.ts): starts the broker (embedded when
 * `mqtt.url` is absent), the detector and the serving classifier, each recorded in the daemon's part list so
 * that they stop after every part; then builds, without starting, the MQTT connection, the track journal,
 * the run-time thresholds and the cameras.
 */
import { MAX_MQTT_PACKET_BYTES } from './mqtt-packet-limit.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import { boardGalleryService } from './board-gallery-service.js';
import { SharedEmbedder } from './shared-embedder.js';
import { shippedEmbedderPath } from '../inference/shipped-model.js';
import { FaceDetector } from '../inference/face-detector.js';
import { EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { AuditTrail } from '../mqtt/audit-trail.js';
import { MqttOutput } from '../mqtt/mqtt-output.js';
import { MqttTopics } from '../mqtt/mqtt-topics.js';
import { EXTERNAL_BROKER_ORIGINS, PublisherLedger } from '../mqtt/request-origins.js';
import { componentLogger } from '../observability/logger.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import { TrackJournal } from '../pipeline/track-journal.js';
import { describeBridge, healthFacts } from './board-description.js';
import { CameraSet } from './camera-set.js';
import { loadClassifierSet } from './classifier-set.js';
import { assertRuleAttributes } from '../rules/rule-attributes.js';
import type { DaemonBus } from './daemon-bus.js';
import type { DaemonParts } from './daemon-parts.js';
import type { DaemonServices } from './daemon-services.js';
import { RunTimeTuning } from './run-time-tuning.js';

export interface DaemonServiceOptions {
  readonly config: FaceedgeConfig;
  readonly log: Logger;
  readonly version: string;
  readonly env: NodeJS.ProcessEnv;
  readonly metrics: DaemonMetrics;
  readonly bus: DaemonBus;
  /** True once every part has started, until stop begins (health). */
  readonly started: () => boolean;
  /** Runs once the broker is known and before any camera starts. */
  readonly beforeCameras?: (brokerUrl: string) => Promise<void>;
}

/** Starts and builds the services; what it started is recorded in `parts`. */
export async function startServices(o: DaemonServiceOptions, parts: DaemonParts): Promise<DaemonServices> {
  const { config, log, bus, beforeCameras } = o;
  // Who sent each request: the embedded broker writes it down; an external broker's ACL decided and tells nobody.
  const topics = new MqttTopics(config.mqtt.base_topic, config.device.id);
  const ledger = config.mqtt.url === undefined ? new PublisherLedger() : null;
  const brokerUrl = config.mqtt.url ?? (await startEmbeddedBroker(config, log, parts, ledger, topics));
  const detector = parts.started(
    'detector',
    await FaceDetector.create({
      model: config.detector.model,
      scoreThreshold: config.detector.score_threshold,
      iouThreshold: config.detector.nms_iou,
      threads: config.detector.threads ?? config.classifier.threads,
    }),
    (d) => d.close(),
  );
  const classifiers = parts.started(
    'classifier',
    await loadClassifierSet(config, log, (name, next, first) => {
      if (first) bus.emit('modelChanged', next);
      bus.emit('classifierChanged', name, next);
    }),
    (c) => c.close(),
  );
  const classifier = classifiers.first.holder;
  // A rule on a label no model has could never fire: refuse to start (labels come from the manifests).
  assertRuleAttributes(
    config.rules,
    classifiers.models.map((m) => ({ name: m.name, labels: m.holder.current.labels })),
  );
  const embedder = config.recognition.enabled
    ? parts.started(
        'embedder',
        new SharedEmbedder(config.recognition.model ?? shippedEmbedderPath(), config.classifier.threads),
        (e) => e.close(),
      )
    : null;
  const gallery = await boardGalleryService(config, { bus, detector, embedder, log: componentLogger(log, 'gallery') });
  const tuning = new RunTimeTuning({ detector: config.detector, tracker: config.tracker }, bus);
  bus.on('optionsChanged', (options) =>
    detector.retune({ scoreThreshold: options.detector.score_threshold, iouThreshold: options.detector.nms_iou }),
  );
  // Tracks the last run left open end when MQTT starts (it may have crashed); ids continue after its last one.
  const journal = TrackJournal.open(join(config.state_dir, 'tracks.json'), componentLogger(log, 'tracks'));
  const cameras = new CameraSet({
    cameras: config.cameras,
    motionGate: config.motion_gate,
    detector,
    classifiers,
    tuning,
    journal,
    metrics: o.metrics,
    bus,
    log,
    beforeStart: beforeCameras ? () => beforeCameras(brokerUrl) : undefined,
  });
  const audit: AuditTrail = new AuditTrail({
    log: componentLogger(log, 'audit'),
    topic: topics.audit,
    publish: (topic, payload): Promise<void> => mqtt.publish(topic, payload, { qos: 1, retain: false }),
  });
  const mqtt = new MqttOutput({
    url: brokerUrl,
    // The daemon logs in to its own embedded broker like any other client when that has a login.
    mqtt: ledger ? { ...config.mqtt, ...config.embedded_broker.auth } : config.mqtt,
    audit,
    origins: ledger ?? EXTERNAL_BROKER_ORIGINS,
    deviceId: config.device.id,
    bridgeInfo: () => describeBridge(services, config),
    log: componentLogger(log, 'mqtt'),
    metrics: o.metrics,
    // An external broker may hold a peer's huge retained message on a topic we subscribe to: MQTT 5 lets the
    // daemon say what it takes (unless mqtt.protocol_version is 4, for a 3.1.1-only broker: then requests are
    // still bounded before parsing). The embedded broker bounds every packet as it arrives (and speaks 3.1.1 only).
    maxIncomingPacketBytes: ledger ? undefined : MAX_MQTT_PACKET_BYTES,
  });
  const services: DaemonServices = {
    version: o.version,
    deviceId: config.device.id,
    brokerUrl,
    env: o.env,
    metrics: o.metrics,
    mqtt,
    audit,
    detector,
    classifier,
    embedder,
    gallery,
    classifiers,
    tuning,
    journal,
    cameras,
    health: () => healthFacts(services, o.started()),
  };
  return services;
}

async function startEmbeddedBroker(
  config: FaceedgeConfig,
  log: Logger,
  parts: DaemonParts,
  ledger: PublisherLedger | null,
  topics: MqttTopics,
): Promise<string> {
  log.info('no mqtt.url configured: starting the embedded MQTT broker');
  // EmbeddedBroker logs where it listens; a real deployment points mqtt.url at Mosquitto.
  const broker = new EmbeddedBroker({
    host: config.embedded_broker.host,
    port: config.embedded_broker.port,
    auth: config.embedded_broker.auth,
    ledger: ledger ?? undefined,
    recordFilters: topics.requestFilters,
    maxPacketBytes: MAX_MQTT_PACKET_BYTES,
    log: componentLogger(log, 'broker'),
  });
  const url = await broker.start();
  parts.started('embedded broker', broker, (b) => b.stop());
  return url;
}
