/**
 * The composition root of `faceedge run`: builds every component from the frozen configuration,
 * starts them in order and stops them in reverse. No component reads configuration or the
 * environment itself; each gets its slice here.
 */
import type { Logger } from 'pino';
import { redactConfig } from '../config/redact-config.js';
import { isFaceedgeError, type FaceedgeError } from '../errors.js';
import { applyRuntimeOptionsPatch, parseRuntimeOptionsPatch, type RuntimeOptions } from '../config/runtime-options.js';
import type { FaceedgeConfig, TrackerConfig } from '../config/config-schema.js';
import { motionGateFor } from '../config/motion-gate-schema.js';
import { evaluateHealth, type HealthFacts } from '../observability/health-report.js';
import { HealthServer } from '../observability/health-server.js';
import { componentLogger } from '../observability/logger.js';
import { DaemonMetrics } from '../observability/metrics.js';
import { EmbeddedBroker } from '../outputs/embedded-broker.js';
import type { BridgeInfo } from '../outputs/mqtt-payloads.js';
import { MqttOutput } from '../outputs/mqtt-output.js';
import type { PipelineSink } from '../pipeline/pipeline.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { FaceDetector } from '../vision/face-detector.js';
import { CameraRunner } from './camera-runner.js';
import { ClassifierHolder, delegateFromConfig } from './classifier-holder.js';
import { GpioRules } from './gpio-rules.js';
import { boardModel, HaAnnouncer } from './ha-announcer.js';
import { currentStoredModel, ModelUpdates } from './model-updates.js';
import { StatsReporter } from './stats-reporter.js';

export interface DaemonOptions {
  readonly config: FaceedgeConfig;
  readonly log: Logger;
  readonly version: string;
  /** Environment of helper processes (the libgpiod tools are found on its PATH). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
  /** Stats period, ms. Default 10 000. */
  readonly statsIntervalMs?: number;
  /** Runs once the broker is known and before any camera starts (the demo's event printer subscribes here). */
  readonly beforeCameras?: (brokerUrl: string) => Promise<void>;
}

function trackerOptions(t: TrackerConfig) {
  return { iouThreshold: t.iou_threshold, maxMissedFrames: t.max_missed_frames, minFrames: t.min_frames, updateIntervalMs: t.update_interval_ms, hysteresis: t.hysteresis };
}

export class Daemon {
  readonly metrics = new DaemonMetrics();
  #o: DaemonOptions;
  #runtime: RuntimeOptions;
  #broker: EmbeddedBroker | null = null;
  #detector: FaceDetector | null = null;
  #classifier: ClassifierHolder | null = null;
  #mqtt: MqttOutput | null = null;
  #cameras: CameraRunner[] = [];
  #gpio: GpioRules | null = null;
  #ha: HaAnnouncer | null = null;
  #models: ModelUpdates | null = null;
  /** Model swaps (bridge model/reload, store changes) run one at a time. */
  #reloads: Promise<unknown> = Promise.resolve();
  #health: HealthServer | null = null;
  #stats: StatsReporter | null = null;
  #started = false;
  readonly #failedCameras = new Map<string, FaceedgeError>();
  #stopping: Promise<void> | null = null;
  /** URL of the broker in use (configured or embedded), known after start. */
  brokerUrl = '';

  constructor(options: DaemonOptions) {
    this.#o = options;
    this.#runtime = Object.freeze({ detector: options.config.detector, tracker: options.config.tracker });
  }

  get healthPort(): number {
    return this.#health?.port ?? 0;
  }

  /** Resolves when every camera source has ended (never, for live cameras). */
  get camerasDone(): Promise<void> {
    return Promise.all(this.#cameras.map((c) => c.done)).then(() => undefined);
  }

  async start(): Promise<void> {
    const { config, log } = this.#o;
    this.brokerUrl = config.mqtt.url ?? (await this.#startEmbeddedBroker());
    this.#detector = await FaceDetector.create({
      model: config.detector.model, scoreThreshold: config.detector.score_threshold, iouThreshold: config.detector.nms_iou,
      threads: config.detector.threads ?? config.classifier.threads,
    });
    this.#classifier = await this.#loadClassifier();
    const mqtt = new MqttOutput({
      url: this.brokerUrl, mqtt: config.mqtt, deviceId: config.device.id, bridgeInfo: () => this.#bridgeInfo(),
      log: componentLogger(log, 'mqtt'), metrics: this.metrics,
    });
    this.#mqtt = mqtt;
    this.#registerBridgeCommands(mqtt);
    await mqtt.start();
    const sink: PipelineSink = {
      events: (_camera, events) => {
        for (const e of events) {
          mqtt.publishEvent(e);
          this.#gpio?.event(e);
        }
      },
      facePresence: (camera, present) => mqtt.setFace(camera, present),
    };
    for (const camera of config.cameras) {
      const runner = new CameraRunner({
        name: camera.name, source: camera.source, detector: this.#detector, classifier: () => this.#classifier!.current,
        motionGate: motionGateFor(config.motion_gate, camera.source.type),
        tracker: trackerOptions(this.#runtime.tracker), minFacePx: this.#runtime.detector.min_face_px, sink, metrics: this.metrics,
        log: componentLogger(log, 'camera', { camera: camera.name }), onStatus: (s) => mqtt.setCaptureStatus(camera.name, s.state === 'online'),
      });
      this.#cameras.push(runner);
    }
    // Before the cameras start: outputs go to their safe state and input-gated cameras are paused.
    this.#gpio = await GpioRules.open({
      gpio: config.gpio, rules: config.rules, env: this.#o.env ?? {}, mqtt, log: componentLogger(log, 'gpio'),
      setCameraRunning: (name, run) => void this.#cameras.find((c) => c.name === name)?.setRunning(run),
    });
    if (config.homeassistant.enabled) {
      this.#ha = new HaAnnouncer({ mqtt, prefix: config.homeassistant.discovery_prefix, describe: () => this.#haDescription(), log: componentLogger(log, 'homeassistant') });
      this.#ha.start();
    }
    this.#models = new ModelUpdates({
      models: config.models, stateDir: config.state_dir, mqtt, baseTopic: config.mqtt.base_topic, deviceId: config.device.id,
      reload: async (m) => void (await this.#swapModel(m.modelPath, m.manifestPath)), log: componentLogger(log, 'models'),
    });
    await this.#models.start();
    if (config.http.port > 0) {
      this.#health = new HealthServer({ host: config.http.host, port: config.http.port, health: () => this.healthFacts(), metrics: this.metrics, log: componentLogger(log, 'http') });
      await this.#health.start();
    }
    await this.#o.beforeCameras?.(this.brokerUrl);
    for (const runner of this.#cameras) await this.#startCamera(runner, mqtt);
    this.#stats = new StatsReporter({ cameras: this.#cameras, delegate: () => this.#classifier!.current.delegate.active, publish: (s) => mqtt.publishStats(s), intervalMs: this.#o.statsIntervalMs ?? 10_000 });
    this.#stats.start();
    this.#started = true;
    log.info({ cameras: config.cameras.map((c) => c.name), broker: this.brokerUrl, health_port: this.healthPort, model: this.#classifier.current.id }, 'faceedge running');
  }

  /**
   * The model store's current model (installed by `faceedge model install` or a push) when there is
   * one, else `classifier.model`. A stored model that no longer loads is logged and the configured
   * one serves instead: a board must come up with some model.
   */
  async #loadClassifier(): Promise<ClassifierHolder> {
    const { config, log } = this.#o;
    const settings = { threads: config.classifier.threads, delegate: delegateFromConfig(config.classifier.delegate, config.classifier.delegate_options) };
    const clog = componentLogger(log, 'classifier');
    const stored = await currentStoredModel(config.models.dir).catch((err: unknown) => {
      log.warn({ dir: config.models.dir, err: (err as Error).message }, 'cannot read the model store; serving classifier.model');
      return null;
    });
    if (stored) {
      try {
        const holder = await ClassifierHolder.create({ ...settings, modelPath: stored.modelPath, manifestPath: stored.manifestPath }, clog);
        log.info({ version: stored.name, dir: config.models.dir }, 'serving the model store\'s current model (not classifier.model)');
        return holder;
      } catch (err) {
        if (!isFaceedgeError(err)) throw err;
        log.error({ version: stored.name, code: err.code, err: err.message }, 'the model store\'s current model does not load; serving classifier.model');
      }
    }
    return ClassifierHolder.create({ ...settings, modelPath: config.classifier.model, manifestPath: config.classifier.manifest }, clog);
  }

  /** Swaps the classifier (one swap at a time); the old model keeps serving when the new one is refused. */
  #swapModel(modelPath?: string, manifestPath?: string): Promise<FaceClassifier> {
    const run = this.#reloads.then(async () => {
      const next = await this.#classifier!.reload(modelPath, manifestPath);
      for (const c of this.#cameras) c.setModel(next.id);
      void this.#mqtt?.republishInfo();
      return next;
    });
    this.#reloads = run.catch(() => undefined);
    return run;
  }

  #haDescription() {
    const { config, version } = this.#o;
    return {
      baseTopic: config.mqtt.base_topic, deviceId: config.device.id, deviceName: config.device.name, version, model: boardModel(),
      cameras: config.cameras.map((c) => c.name), classes: this.#classifier?.current.labels,
      outputs: Object.entries(config.gpio.outputs).map(([name, o]) => ({ name, title: o.title, lock: o.lock, unlockMs: o.unlock_ms })),
      inputs: Object.entries(config.gpio.inputs).map(([name, i]) => ({ name, title: i.title, deviceClass: i.device_class })),
    };
  }

  /**
   * A camera that cannot start (unreadable file, missing device) must not take the other cameras and
   * the MQTT side down: it is logged with its code and hint, its capture status goes `offline`, and
   * it counts as ended. Anything but a FaceedgeError is a bug and still fails the start.
   */
  async #startCamera(runner: CameraRunner, mqtt: MqttOutput): Promise<void> {
    try {
      await runner.start();
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      this.#failedCameras.set(runner.name, err);
      mqtt.setCaptureStatus(runner.name, false);
      this.#o.log.error({ camera: runner.name, code: err.code, err: err.message, hint: err.hint }, 'camera failed to start; the other cameras keep running');
    }
  }

  /** Cameras whose source could not start, with the reason (a typed error). */
  get failedCameras(): ReadonlyMap<string, FaceedgeError> {
    return this.#failedCameras;
  }

  /**
   * Stops everything in reverse order: stats, capture and pipelines (end events), HTTP, model updates,
   * HA, GPIO (outputs safe, their state still published), MQTT (offline + outbox flush), models, broker.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#started = false;
    this.#stats?.stop();
    await Promise.all(this.#cameras.map((c) => c.stop()));
    await this.#health?.stop();
    await this.#models?.stop();
    this.#ha?.stop();
    await this.#gpio?.close().catch((err: unknown) => this.#o.log.error({ err }, 'GPIO did not close cleanly'));
    await this.#mqtt?.stop();
    await this.#classifier?.close();
    await this.#detector?.close();
    await this.#broker?.stop();
    this.#o.log.info('faceedge stopped');
  }

  healthFacts(): HealthFacts {
    const now = performance.now();
    const classifier = this.#classifier?.current;
    return {
      started: this.#started,
      broker_connected: this.#mqtt?.connected ?? false,
      // A camera paused by a rule delivers no frames on purpose; it must not make the board "not ready".
      last_frame_age_ms: Object.fromEntries(this.#cameras.filter((c) => !c.paused).map((c) => [c.name, c.lastFrameAt === null ? null : Math.round(now - c.lastFrameAt)])),
      paused_cameras: this.#cameras.filter((c) => c.paused).map((c) => c.name),
      model: classifier ? { id: classifier.id, sha256: classifier.sha256, delegate: classifier.delegate.active } : null,
    };
  }

  async #startEmbeddedBroker(): Promise<string> {
    const { config, log } = this.#o;
    log.info('no mqtt.url configured: starting the embedded MQTT broker');
    this.#broker = new EmbeddedBroker({ host: config.embedded_broker.host, port: config.embedded_broker.port, log: componentLogger(log, 'broker') });
    // EmbeddedBroker logs where it listens; a real deployment points mqtt.url at Mosquitto.
    return this.#broker.start();
  }

  #bridgeInfo(): BridgeInfo {
    const classifier = this.#classifier?.current;
    return {
      version: this.#o.version,
      model: classifier ? { id: classifier.id, sha256: classifier.sha256 } : null,
      delegate: { active: classifier?.delegate.active ?? 'none', fallback_reason: classifier?.delegate.fallbackReason ?? null },
      detector: { model: this.#o.config.detector.model, delegate: this.#detector?.delegate.active ?? 'none' },
      cameras: this.#cameras.map((c) => c.name),
      options: this.#runtime,
      config: redactConfig(this.#o.config),
    };
  }

  #registerBridgeCommands(mqtt: MqttOutput): void {
    mqtt.bridge.register('health_check', () => evaluateHealth(this.healthFacts()));
    mqtt.bridge.register('options', (params) => {
      this.#runtime = applyRuntimeOptionsPatch(this.#runtime, parseRuntimeOptionsPatch(params));
      this.#detector?.retune({ scoreThreshold: this.#runtime.detector.score_threshold, iouThreshold: this.#runtime.detector.nms_iou });
      for (const c of this.#cameras) c.retune(trackerOptions(this.#runtime.tracker), this.#runtime.detector.min_face_px);
      void mqtt.republishInfo();
      return this.#runtime;
    });
    mqtt.bridge.register('model/reload', async (params) => {
      const body = (params ?? {}) as { model?: unknown; manifest?: unknown };
      const path = typeof body.model === 'string' ? body.model : undefined;
      const next = await this.#swapModel(path, typeof body.manifest === 'string' ? body.manifest : undefined);
      return { id: next.id, path: next.modelPath, sha256: next.sha256, delegate: next.delegate };
    });
  }
}
