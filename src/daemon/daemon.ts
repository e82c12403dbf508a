/**
 * The composition root of `faceedge run`: builds every component from the frozen configuration,
 * starts them in order and stops them in reverse. No component reads configuration or the
 * environment itself; each gets its slice here.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { redactConfig, redactUrl } from '../config/redact-config.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { applyRuntimeOptionsPatch, parseRuntimeOptionsPatch, type RuntimeOptions } from '../config/runtime-options.js';
import type { FaceedgeConfig, TrackerConfig } from '../config/config-schema.js';
import { motionGateFor } from '../config/motion-gate-schema.js';
import { evaluateHealth, type HealthFacts } from '../observability/health-report.js';
import { HealthServer } from '../observability/health-server.js';
import { boardFacts } from '../live-view/board-facts.js';
import { LiveView } from '../live-view/live-view.js';
import { LiveViewRoutes } from '../live-view/live-view-routes.js';
import { componentLogger } from '../observability/logger.js';
import { DaemonMetrics } from '../observability/metrics.js';
import { EmbeddedBroker } from '../outputs/embedded-broker.js';
import type { BridgeInfo } from '../outputs/mqtt-payloads.js';
import { MqttOutput } from '../outputs/mqtt-output.js';
import { TrackJournal } from '../outputs/track-journal.js';
import type { PipelineSink } from '../pipeline/pipeline.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { FaceDetector } from '../inference/face-detector.js';
import { CameraRunner } from './camera-runner.js';
import { loadServingClassifier, type ClassifierHolder } from './classifier-holder.js';
import { GpioRules } from './gpio-rules.js';
import { boardModel, HaAnnouncer } from './ha-announcer.js';
import { parseModelReloadRequest } from './model-reload-request.js';
import { modelRollbackHandler } from './model-rollback-command.js';
import { ModelUpdates, servedFrom } from './model-updates.js';
import { StatsReporter } from './stats-reporter.js';
import { DaemonParts } from './daemon-parts.js';
import type { BridgeHandler } from '../outputs/bridge-dispatcher.js';

export interface DaemonOptions {
  readonly config: FaceedgeConfig;
  readonly log: Logger;
  readonly version: string;
  /** Environment of helper processes (the libgpiod tools are found on its PATH). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
  /** Stats period, ms. Default `mqtt.stats_interval_s`. */
  readonly statsIntervalMs?: number;
  /** Runs once the broker is known and before any camera starts (the demo's event printer subscribes here). */
  readonly beforeCameras?: (brokerUrl: string) => Promise<void>;
}

function trackerOptions(t: TrackerConfig) {
  return {
    iouThreshold: t.iou_threshold,
    maxMissedFrames: t.max_missed_frames,
    minFrames: t.min_frames,
    updateIntervalMs: t.update_interval_ms,
    hysteresis: t.hysteresis,
    unsureMargin: t.unsure_margin,
    classifyIntervalMs: t.classify_interval_ms,
  };
}

export class Daemon {
  readonly metrics = new DaemonMetrics();
  #o: DaemonOptions;
  #runtime: RuntimeOptions;
  #detector: FaceDetector | null = null;
  #classifier: ClassifierHolder | null = null;
  #mqtt: MqttOutput | null = null;
  #cameras: CameraRunner[] = [];
  #gpio: GpioRules | null = null;
  #models: ModelUpdates | null = null;
  /** Model swaps (bridge model/reload, store changes) run one at a time. */
  #reloads: Promise<unknown> = Promise.resolve();
  #health: HealthServer | null = null;
  /** The live view (`/live/`), served with /healthz when http.port is set. */
  #live: LiveView | null = null;
  /** Every started part, for stopping in reverse order. */
  readonly #parts = new DaemonParts();
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

  /**
   * Starts the parts in dependency order, each recorded in `#parts` once it is up so `stop()` takes them
   * down in exactly the reverse order: broker, detector, classifier, MQTT (bridge commands registered
   * before it connects), the track journal, GPIO and rules (outputs safe before any camera runs), Home
   * Assistant, model updates, HTTP (health, metrics, live view), cameras, stats.
   */
  async start(): Promise<void> {
    const { config, log } = this.#o;
    const parts = this.#parts;
    if (config.mqtt.url) {
      this.brokerUrl = config.mqtt.url;
    } else {
      const broker = this.#embeddedBroker();
      this.brokerUrl = await broker.start();
      parts.started('embedded broker', broker, (b) => b.stop());
    }
    this.#detector = parts.started(
      'detector',
      await FaceDetector.create({
        model: config.detector.model,
        scoreThreshold: config.detector.score_threshold,
        iouThreshold: config.detector.nms_iou,
        threads: config.detector.threads ?? config.classifier.threads,
      }),
      (d) => d.close(),
    );
    this.#classifier = parts.started('classifier', await loadServingClassifier(this.#o.config, this.#o.log), (c) =>
      c.close(),
    );
    const mqtt = new MqttOutput({
      url: this.brokerUrl,
      mqtt: config.mqtt,
      deviceId: config.device.id,
      bridgeInfo: () => this.#bridgeInfo(),
      log: componentLogger(log, 'mqtt'),
      metrics: this.metrics,
    });
    this.#mqtt = mqtt;
    for (const [command, handler] of Object.entries({ ...this.#coreCommands(), ...this.#modelCommands() }))
      mqtt.bridge.register(command, handler);
    await mqtt.start();
    parts.started('mqtt', mqtt, (m) => m.stop());
    // Tracks the last run left open end now (it may have crashed); ids continue after its last one.
    const journal = TrackJournal.open(join(config.state_dir, 'tracks.json'), componentLogger(log, 'tracks'));
    for (const e of journal.takeLeftovers()) mqtt.publishEvent(e);
    this.#cameras = config.cameras.map((camera) => this.#camera(camera, mqtt, journal));
    // Before the cameras start: outputs go to their safe state and input-gated cameras are paused.
    this.#gpio = parts.started(
      'gpio',
      await GpioRules.open({
        gpio: config.gpio,
        rules: config.rules,
        env: this.#o.env ?? {},
        mqtt,
        log: componentLogger(log, 'gpio'),
        setCameraRunning: (name, run) => void this.#cameras.find((c) => c.name === name)?.setRunning(run),
        onAction: (payload) => this.#live?.ruleAction(payload),
      }),
      (g) => g.close(),
    );
    if (config.homeassistant.enabled) {
      const ha = new HaAnnouncer({
        mqtt,
        prefix: config.homeassistant.discovery_prefix,
        describe: () => this.#haDescription(),
        log: componentLogger(log, 'homeassistant'),
      });
      ha.start();
      parts.started('home assistant', ha, (h) => h.stop());
    }
    const models = new ModelUpdates({
      models: config.models,
      stateDir: config.state_dir,
      mqtt,
      baseTopic: config.mqtt.base_topic,
      deviceId: config.device.id,
      reload: async (m) => void (await this.#swapModel(m.modelPath, m.manifestPath)),
      log: componentLogger(log, 'models'),
    });
    await models.start();
    this.#models = parts.started('model updates', models, (m) => m.stop());
    if (config.http.port > 0) {
      const live = this.#createLiveView();
      const routes = new LiveViewRoutes({ live, auth: config.http.auth, log: componentLogger(log, 'live-view') });
      const health = new HealthServer({
        host: config.http.host,
        port: config.http.port,
        health: () => this.healthFacts(),
        metrics: this.metrics,
        log: componentLogger(log, 'http'),
        routes: (req, res) => routes.handle(req, res),
      });
      await health.start();
      this.#live = live;
      this.#health = parts.started('http', health, async (h) => {
        live.close();
        await h.stop();
      });
    }
    await this.#o.beforeCameras?.(this.brokerUrl);
    parts.started('cameras', this.#cameras, async (cameras) => void (await Promise.all(cameras.map((c) => c.stop()))));
    await Promise.all(this.#cameras.map((runner) => this.#startCamera(runner, mqtt))); // each on its own: one stuck start holds no other
    const stats = new StatsReporter({
      cameras: this.#cameras,
      delegate: () => this.#classifier!.current.delegate.active,
      publish: (s) => mqtt.publishStats(s),
      intervalMs: this.#o.statsIntervalMs ?? config.mqtt.stats_interval_s * 1000,
    });
    stats.start();
    parts.started('stats', stats, (r) => r.stop());
    this.#started = true;
    log.info(
      {
        cameras: config.cameras.map((c) => c.name),
        broker: redactUrl(this.brokerUrl),
        health_port: this.healthPort,
        model: this.#classifier.current.id,
      },
      'faceedge running',
    );
  }

  /** One camera's runner, wired to MQTT, the track journal, the GPIO rules and the live view. */
  #camera(camera: FaceedgeConfig['cameras'][number], mqtt: MqttOutput, journal: TrackJournal): CameraRunner {
    const { config, log } = this.#o;
    const sink: PipelineSink = {
      events: (name, events) => {
        this.#live?.events(name, events);
        for (const e of events) {
          journal.record(e);
          mqtt.publishEvent(e);
          this.#gpio?.event(e);
        }
      },
      facePresence: (name, present) => mqtt.setFace(name, present),
    };
    mqtt.setFace(camera.name, false); // the true state until a face is tracked (a crash may have left ON retained)
    return new CameraRunner({
      name: camera.name,
      source: camera.source,
      detector: this.#detector!,
      classifier: () => this.#classifier!.current,
      motionGate: motionGateFor(config.motion_gate, camera.source.type),
      tracker: { ...trackerOptions(this.#runtime.tracker), firstId: journal.firstNumber(camera.name) },
      minFacePx: this.#runtime.detector.min_face_px,
      sink,
      metrics: this.metrics,
      log: componentLogger(log, 'camera', { camera: camera.name }),
      onStatus: (s) => {
        mqtt.setCaptureStatus(camera.name, s.state === 'online');
        this.#live?.captureStatus(camera.name, s);
      },
      onFrame: (frame) => this.#live?.frame(camera.name, frame),
    });
  }

  #createLiveView(): LiveView {
    const { config, version, log } = this.#o;
    const board = boardFacts({
      version,
      device: config.device.id,
      classifier: () => this.#classifier?.current,
      brokerUrl: () => this.brokerUrl,
      detector: () => ({ model: config.detector.model, delegate: this.#detector?.delegate.active ?? 'none' }),
      mqtt: () => this.#mqtt,
      gpio: () => this.#gpio?.lines() ?? null,
    });
    return new LiveView({
      cameras: this.#cameras,
      board,
      labels: () => this.#classifier?.current.labels ?? [],
      snapshots: config.http.snapshots,
      log: componentLogger(log, 'live-view'),
    });
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
      baseTopic: config.mqtt.base_topic,
      deviceId: config.device.id,
      deviceName: config.device.name,
      version,
      model: boardModel(),
      cameras: config.cameras.map((c) => c.name),
      classes: this.#classifier?.current.labels,
      outputs: Object.entries(config.gpio.outputs).map(([name, o]) => ({
        name,
        title: o.title,
        lock: o.lock,
        unlockMs: o.unlock_ms,
      })),
      inputs: Object.entries(config.gpio.inputs).map(([name, i]) => ({
        name,
        title: i.title,
        deviceClass: i.device_class,
      })),
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
      this.#o.log.error(
        { camera: runner.name, code: err.code, err: err.message, hint: err.hint },
        'camera failed to start; the other cameras keep running',
      );
    }
  }

  /** Cameras whose source could not start, with the reason (a typed error). */
  get failedCameras(): ReadonlyMap<string, FaceedgeError> {
    return this.#failedCameras;
  }

  /** Stops every started part in reverse order of start (see `start`). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#started = false;
    await this.#parts.stopAll(this.#o.log);
    this.#o.log.info('faceedge stopped');
  }

  healthFacts(): HealthFacts {
    const now = performance.now();
    const classifier = this.#classifier?.current;
    return {
      started: this.#started,
      broker_connected: this.#mqtt?.connected ?? false,
      broker_problem: this.#mqtt?.brokerProblem ?? null,
      // A camera paused by a rule delivers no frames on purpose; it must not make the board "not ready".
      last_frame_age_ms: Object.fromEntries(
        this.#cameras
          .filter((c) => !c.paused)
          .map((c) => [c.name, c.lastFrameAt === null ? null : Math.round(now - c.lastFrameAt)]),
      ),
      paused_cameras: this.#cameras.filter((c) => c.paused).map((c) => c.name),
      model: classifier ? { id: classifier.id, sha256: classifier.sha256, delegate: classifier.delegate.active } : null,
    };
  }

  #embeddedBroker(): EmbeddedBroker {
    const { config, log } = this.#o;
    log.info('no mqtt.url configured: starting the embedded MQTT broker');
    // EmbeddedBroker logs where it listens; a real deployment points mqtt.url at Mosquitto.
    return new EmbeddedBroker({
      host: config.embedded_broker.host,
      port: config.embedded_broker.port,
      log: componentLogger(log, 'broker'),
    });
  }

  #bridgeInfo(): BridgeInfo {
    const classifier = this.#classifier?.current;
    return {
      version: this.#o.version,
      tags: this.#o.config.device.tags,
      model: classifier
        ? {
            id: classifier.id,
            sha256: classifier.sha256,
            threshold: classifier.threshold,
            flip_average: classifier.flipAverage,
            ...servedFrom(classifier.modelPath, this.#o.config.models.dir),
          }
        : null,
      delegate: {
        active: classifier?.delegate.active ?? 'none',
        fallback_reason: classifier?.delegate.fallbackReason ?? null,
      },
      detector: { model: this.#o.config.detector.model, delegate: this.#detector?.delegate.active ?? 'none' },
      cameras: this.#cameras.map((c) => c.name),
      options: this.#runtime,
      config: redactConfig(this.#o.config),
    };
  }

  /** The daemon's own bridge commands: its health and its run-time thresholds. */
  #coreCommands(): Record<string, BridgeHandler> {
    return {
      health_check: () => evaluateHealth(this.healthFacts()),
      options: (params) => {
        this.#runtime = applyRuntimeOptionsPatch(this.#runtime, parseRuntimeOptionsPatch(params));
        this.#detector?.retune({
          scoreThreshold: this.#runtime.detector.score_threshold,
          iouThreshold: this.#runtime.detector.nms_iou,
        });
        for (const c of this.#cameras)
          c.retune(trackerOptions(this.#runtime.tracker), this.#runtime.detector.min_face_px);
        void this.#mqtt?.republishInfo();
        return this.#runtime;
      },
    };
  }

  /** The model part's bridge commands: reload (verified like an install) and rollback. */
  #modelCommands(): Record<string, BridgeHandler> {
    return {
      // Payload and checks: model-reload-request.ts (a named model is verified like an install).
      'model/reload': async (params) => {
        const target = parseModelReloadRequest(params);
        if (!this.#models) throw new FaceedgeError('REQUEST_INVALID', 'model/reload: the daemon is still starting');
        await this.#models.verifyReload(target);
        const next = await this.#swapModel(target.modelPath, target.manifestPath);
        return { id: next.id, path: next.modelPath, sha256: next.sha256, delegate: next.delegate };
      },
      'model/rollback': modelRollbackHandler({
        updates: () => this.#models,
        serving: () =>
          this.#classifier ? { id: this.#classifier.current.id, sha256: this.#classifier.current.sha256 } : null,
        serveConfigured: async () =>
          void (await this.#swapModel(this.#o.config.classifier.model, this.#o.config.classifier.manifest)),
      }),
    };
  }
}
