/**
 * The daemon's configuration schema: one YAML file, `FACEEDGE_*` env overrides and CLI flags all land
 * here. Every object is strict (an unknown key is an error, so a typo never silently falls back to a
 * default) and every key has a documented default, so an empty file is a valid configuration.
 *
 * Numbers and booleans also accept their string spelling (`"30"`, `"true"`) because env variables
 * and CLI flags only carry strings; the YAML file gives real numbers anyway.
 */
import { z } from 'zod';
import { gpioSchema } from '../gpio/gpio-config-schema.js';
import { TRACKER_DEFAULTS } from '../pipeline/face-tracker.js';
import { rulesSchema } from '../rules/rules-schema.js';
import { accessSchema } from '../rules/access-schema.js';
import { homeassistantSchema, modelsSchema, ruleReferenceCheck } from './board-config-schema.js';
import { BROKER_URL_PATTERN, brokerUrlProblem } from './broker-url.js';
import { motionGateSchema } from './motion-gate-schema.js';
import { cameraSourceSchema } from '../capture/camera-source-schema.js';
import { bool, coerceNumber, isObjectPayload, num, topicPath } from '../schema/schema-helpers.js';
import { DEFAULT_BASE_TOPIC } from '../mqtt/mqtt-topics.js';
import { isLoopbackHost } from '../mqtt/loopback-host.js';
import { DEFAULT_HTTP_HOST } from '../observability/health-server.js';
import { recognitionSchema } from '../recognition/recognition-config-schema.js';

/** A single MQTT topic level usable as an id: no `/`, no wildcards, no spaces. */
const TOPIC_SEGMENT = /^[A-Za-z0-9_-]+$/;
const topicSegment = (what: string) =>
  z.string().regex(TOPIC_SEGMENT, `${what} may only contain letters, digits, "_" and "-" (it is an MQTT topic level)`);

/** Base topic: one or more levels, no wildcards, no leading/trailing or empty levels. */
const baseTopic = topicPath('base_topic');

/** What the model store keeps in `models.dir` (src/model-push/model-store.ts), beside further models' stores. */
const MODEL_STORE_ENTRIES = ['versions', 'current', 'previous'];

/** Name of the model of a `classifier:` section without a `name` (the shipped model tells gender). */
export const DEFAULT_CLASSIFIER_NAME = 'gender';

const port = num(z.number().int().min(0).max(65535));

export const deviceSchema = z.strictObject({
  /** Topic level identifying this board (`faceedge/<id>/…`). Default: the sanitized hostname. */
  id: topicSegment('device.id').optional(),
  /** Human-readable name (Home Assistant, bridge/info). Default: `id`. */
  name: z.string().min(1).optional(),
  /**
   * Labels for grouping boards in a fleet (`faceedge fleet push --tag lobby`), published in bridge/info.
   * A list, or one comma-separated string (`FACEEDGE_DEVICE__TAGS=lobby,door`). Default [].
   */
  tags: z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((t) => t.trim())
              .filter((t) => t !== '')
          : v,
      z.array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a device tag is 1-64 letters, digits, ".", "_" or "-"')),
    )
    .default([]),
});

export const tlsSchema = z
  .strictObject({
    /** PEM file of the CA that signed the broker certificate. */
    ca: z.string().min(1).optional(),
    /** PEM client certificate (mutual TLS); requires `key`. */
    cert: z.string().min(1).optional(),
    /** PEM client private key file; a secret, never logged. Requires `cert`. */
    key: z.string().min(1).optional(),
    /** Reject a broker certificate that does not verify against `ca`/system CAs. Default true. */
    reject_unauthorized: bool().default(true),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message: 'tls.cert and tls.key must be given together',
    path: ['cert'],
    when: isObjectPayload,
  });

export const outboxSchema = z.strictObject({
  /** Directory of the persistent event outbox. Default: `<state_dir>/outbox`. */
  dir: z.string().min(1).optional(),
  /** Events kept on disk while undelivered; past it the oldest are dropped (counted, warned). Default 10000. */
  max_events: num(z.number().int().min(1)).default(10_000),
});

export const mqttSchema = z
  .strictObject({
    /** Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`). Absent: an embedded broker is started. */
    url: z
      .string()
      .regex(BROKER_URL_PATTERN, 'mqtt.url must look like mqtt://host:1883 (or mqtts://, ws://, wss://)')
      .superRefine((url, ctx) => {
        const problem = brokerUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** First topic level of every topic. Default `faceedge`. */
    base_topic: baseTopic.default(DEFAULT_BASE_TOPIC),
    username: z.string().min(1).optional(),
    /** A secret, never logged. Requires `username`. */
    password: z.string().optional(),
    tls: tlsSchema.optional(),
    /** MQTT client id. Default `faceedge-<device.id>`. */
    client_id: z.string().min(1).max(128).optional(),
    /** Keepalive in seconds; the broker fires the LWT after 1.5× this without traffic. Default 30. */
    keepalive: num(z.number().int().min(1).max(65535)).default(30),
    /** Delay between reconnect attempts in ms. Default 2000. */
    reconnect_period_ms: num(z.number().int().min(100)).default(2000),
    /**
     * MQTT version spoken to an external broker (`mqtt.url`): 5 (MQTT 5, which lets the daemon tell the broker
     * the largest packet it takes) or 4 (MQTT 3.1.1, for a broker that speaks only that: Mosquitto 1.5, Azure
     * IoT Hub's device endpoint). Each request is bounded before it is parsed either way. The embedded broker
     * always speaks 3.1.1. Default 5.
     */
    protocol_version: z.preprocess(coerceNumber, z.union([z.literal(5), z.literal(4)])).default(5),
    /** Period of the retained `stats` message (fps, events, last event per camera), seconds. Default 10. */
    stats_interval_s: num(z.number().min(0.2).max(3600)).default(10),
    outbox: outboxSchema.prefault({}),
  })
  .refine((m) => m.password === undefined || m.username !== undefined, {
    message: 'mqtt.password requires mqtt.username',
    path: ['password'],
    when: isObjectPayload,
  })
  .refine((m) => m.tls === undefined || m.url === undefined || /^(mqtts|wss|ssl):/.test(m.url), {
    message: 'mqtt.tls is set but the URL is not mqtts:// or wss://: the connection would not be encrypted',
    path: ['url'],
    when: isObjectPayload,
  });

export const embeddedBrokerSchema = z
  .strictObject({
    /**
     * Listen address of the in-process broker (used only when `mqtt.url` is absent). Default loopback. Any
     * other address (`0.0.0.0`, a LAN address, a host name) needs `auth`: the config is refused without it.
     */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port; 0 picks any free port. Default 1883. */
    port: port.default(1883),
    /**
     * The one login every client of the embedded broker must give, the daemon's own included (checked in
     * constant time); the password is a secret, never logged. Absent: no login, and the broker stays on loopback.
     */
    auth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
  })
  .refine((b) => b.auth !== undefined || isLoopbackHost(b.host), {
    message:
      'an embedded broker on a non-loopback address without a login lets anyone on the network change this board ' +
      '(options, GPIO outputs, models): set embedded_broker.auth {username, password}, ' +
      'or keep embedded_broker.host on loopback (127.0.0.1), or use a broker with ACLs (mqtt.url)',
    path: ['host'],
    when: isObjectPayload,
  });

export const cameraSchema = z.strictObject({
  /** Topic level of this camera (`faceedge/<dev>/<name>/events`); unique. */
  name: topicSegment('camera name'),
  source: cameraSourceSchema,
});

/**
 * Reports every item of `items` whose `name` an earlier item already has (`duplicate <what> name "x" (also
 * <section>.<i>.name)`). Items are read loosely: the check runs even when another item is invalid, so a
 * duplicate is reported in the same pass as every other problem.
 */
function reportDuplicateNames(items: readonly unknown[], ctx: z.RefinementCtx, what: string, section: string): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: [i, 'name'],
        message: `duplicate ${what} name "${name}" (also ${section}.${first}.name)`,
      });
  });
}

/**
 * Camera names must be unique. The check runs even when another camera is invalid (`when`), so a
 * duplicate is reported in the same pass as every other problem.
 */
export const camerasSchema = z
  .array(cameraSchema)
  .superRefine((cameras, ctx) => reportDuplicateNames(cameras, ctx, 'camera', 'cameras'), {
    when: (payload) => Array.isArray(payload.value),
  });

export const detectorSchema = z.strictObject({
  /** BlazeFace variant: `short` (faces within ~2 m, 128×128) or `full` (up to ~5 m). Default `short`. */
  model: z.enum(['short', 'full']).default('short'),
  /** Minimum detection score in [0, 1]. Default 0.5. */
  score_threshold: num(z.number().min(0).max(1)).default(0.5),
  /** IoU above which overlapping detections are merged (non-max suppression). Default 0.3. */
  nms_iou: num(z.number().min(0).max(1)).default(0.3),
  /** Faces smaller than this (box side, source pixels) are ignored. Default 24. */
  min_face_px: num(z.number().int().min(1)).default(24),
  /** Detector interpreter / XNNPACK threads. Default: `classifier.threads`. */
  threads: num(z.number().int().min(1).max(64)).optional(),
});

export const classifierSchema = z.strictObject({
  /** int8 TFLite classifier. Default `models/faceedge-gender_int8.tflite`. */
  model: z.string().min(1).default('models/faceedge-gender_int8.tflite'),
  /** Its manifest. Default: `manifest.json` in the model's folder (as faceedge_train.export writes it). */
  manifest: z.string().min(1).optional(),
  /** Interpreter / XNNPACK threads. Default 1. */
  threads: num(z.number().int().min(1).max(64)).default(1),
  /** `xnnpack` (default), `cpu` (no delegate), or the path/soname of an external delegate `.so`. */
  delegate: z.string().min(1).default('xnnpack'),
  /** Key/value options for an external delegate (e.g. `{device: usb}` for EdgeTPU). Default {}. */
  delegate_options: z.record(z.string(), z.string()).default({}),
  /**
   * Classify each face and its mirror image and average them (twice the classifier time per face).
   * Default: what the model's manifest says (`test_time_flip`, off when absent).
   */
  flip_average: bool().optional(),
  /**
   * Name of the model's attribute in events (`attributes.<name>`), Home Assistant entities and model
   * commands; a topic level. Default `gender` (the shipped model's attribute).
   */
  name: topicSegment('classifier name').optional(),
});

/**
 * One model of the `classifiers:` list: `classifier:`'s fields, a required `name` and `model`, and a cadence
 * of its own.
 */
export const namedClassifierSchema = classifierSchema.extend({
  /** Unique; not a folder name of the first model's store (a further model's store is `models.dir/<name>`). */
  name: topicSegment('classifier name').refine((name) => !MODEL_STORE_ENTRIES.includes(name), {
    message: `a classifier may not be named ${MODEL_STORE_ENTRIES.join(', ')}: its model store would be one of the model store's own folders`,
  }),
  /** TFLite classifier (required in a list). */
  model: z.string().min(1),
  /**
   * A tracked face whose class for this model is clear is classified again at most once per this many ms
   * (as `tracker.classify_interval_ms` does for the first model, which ignores this). Default:
   * `tracker.classify_interval_ms`.
   */
  interval_ms: num(z.number().int().min(0).max(60_000)).optional(),
  /**
   * A head on the face embedding shipped as a pair with `model` (float32 TFLite; models/age/README.md): where
   * recognition runs, a track's class is decided by both models once the track is embedded. Same labels as
   * `model`, trained on the running embedder's embeddings (checked at start). Default none.
   */
  head: z.string().min(1).optional(),
  /** The head's manifest. Default: `manifest.json` in the head's folder. */
  head_manifest: z.string().min(1).optional(),
});

/** Several models per face; names are unique (they are topic levels and attribute keys). */
export const classifiersSchema = z
  .array(namedClassifierSchema)
  .min(1, 'classifiers: needs at least one model')
  .superRefine(
    (models, ctx) => {
      reportDuplicateNames(models, ctx, 'classifier', 'classifiers');
      models.forEach((m, i) => {
        if (m.head_manifest !== undefined && m.head === undefined)
          ctx.addIssue({ code: 'custom', path: [i, 'head_manifest'], message: 'head_manifest needs head' });
      });
      if ((models[0] as { interval_ms?: unknown } | undefined)?.interval_ms !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [0, 'interval_ms'],
          message: 'the first classifier follows tracker.classify_interval_ms: set that instead',
        });
    },
    { when: (payload) => Array.isArray(payload.value) },
  );

export const trackerSchema = z.strictObject({
  /** IoU with a track's last box needed to continue that track. Default 0.3. */
  iou_threshold: num(z.number().min(0).max(1)).default(TRACKER_DEFAULTS.iouThreshold),
  /** Frames a track survives without a matching detection before it ends. Default 10. */
  max_missed_frames: num(z.number().int().min(0)).default(TRACKER_DEFAULTS.maxMissedFrames),
  /** Frames a face must be seen before its `new` event is published. Default 3. */
  min_frames: num(z.number().int().min(1)).default(TRACKER_DEFAULTS.minFrames),
  /** Minimum interval between `update` events of one track, ms. Default 1000. */
  update_interval_ms: num(z.number().int().min(0)).default(TRACKER_DEFAULTS.updateIntervalMs),
  /** Confidence margin above 0.5 the other class needs before a track's published class changes. Default 0.1. */
  hysteresis: num(z.number().min(0).max(0.5)).default(TRACKER_DEFAULTS.hysteresis),
  /**
   * Unsure band: a track whose confidence is below 0.5 + this is reported as class `unknown` (rules
   * for a class then do not fire on it). Default 0 (off); access-control setups should set e.g. 0.2.
   */
  unsure_margin: num(z.number().min(0).max(0.5)).default(TRACKER_DEFAULTS.unsureMargin),
  /**
   * A tracked face whose class is clear (confidence ≥ 0.5 + `hysteresis`) is classified again at most
   * once per this many ms, after its first `min_frames` frames; unclear ones every frame. 0 = every
   * frame. Default 200 (5 a second: the decision does not change, the CPU per camera drops).
   */
  classify_interval_ms: num(z.number().int().min(0).max(60_000)).default(TRACKER_DEFAULTS.classifyIntervalMs),
});

export const httpSchema = z.strictObject({
  /**
   * Listen address of `/healthz`, `/metrics` and the live view. Default `127.0.0.1`: nothing is open to the
   * network until asked for. Set `0.0.0.0` (or the board's LAN address) for a Prometheus on another host; the
   * live view still answers remote clients only with `auth`.
   */
  host: z.string().min(1).default(DEFAULT_HTTP_HOST),
  /** TCP port; 0 disables the server. Default 9464. */
  port: port.default(9464),
  /**
   * HTTP Basic credentials every live-view route (`/live/…`) asks for; the password is a secret, never
   * logged. Absent: the live view answers loopback clients only. `/healthz` and `/metrics` never ask.
   */
  auth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
  /**
   * The `http.auth` user names allowed to enrol a face from the live view ("enrol this face" adds someone who
   * may open the lock). Default none: enrolling from the live view is off, the live view only watches.
   */
  enrol_users: z.array(z.string().min(1)).max(16).default([]),
  /** Face crops in the live view's events. Default false: no face image leaves the board. */
  snapshots: bool().default(false),
});

export const logSchema = z.strictObject({
  /** pino level. Default `info`. */
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The schema of the merged (file + env + flags) configuration, before derived defaults are filled. */
export const configSchema = z
  .strictObject({
    device: deviceSchema.prefault({}),
    mqtt: mqttSchema.prefault({}),
    embedded_broker: embeddedBrokerSchema.prefault({}),
    cameras: camerasSchema.default([]),
    detector: detectorSchema.prefault({}),
    /** The face classifier; one model. For several, `classifiers:` instead (not both). */
    classifier: classifierSchema.prefault({}),
    /** Several models per face, each with its own name and cadence; the first one's class is the event's `class`. */
    classifiers: classifiersSchema.optional(),
    tracker: trackerSchema.prefault({}),
    /** Skip the face detector on still frames while no face is tracked (live cameras by default). */
    motion_gate: motionGateSchema.prefault({}),
    http: httpSchema.prefault({}),
    log: logSchema.prefault({}),
    /** GPIO outputs (relays, LEDs) and inputs (PIR, contacts). Default: none. */
    gpio: gpioSchema.prefault({}),
    /** Track events and GPIO inputs → output pulses and camera gating. Default: none. */
    rules: rulesSchema.default([]),
    /** Person rules' lockout and access log (src/rules/access-schema.ts). */
    access: accessSchema.prefault({}),
    homeassistant: homeassistantSchema.prefault({}),
    models: modelsSchema.prefault({}),
    /** Known faces: recognize enrolled people (src/recognition/recognition-config-schema.ts). Default off. */
    recognition: recognitionSchema.prefault({}),
    /** Writable directory for the outbox and other state. Default `$STATE_DIRECTORY` (systemd) or `./.faceedge`. */
    state_dir: z.string().min(1).optional(),
  })
  // Rules naming outputs, inputs, cameras or models that do not exist, reported with every other problem.
  .superRefine((tree, ctx) => ruleReferenceCheck(tree, ctx, configuredModelNames(tree)), { when: isObjectPayload });

/**
 * The models' names of a (possibly partly invalid) tree: `classifiers[].name`, else `classifier.name` or
 * its default; undefined when those sections are themselves malformed (their own issues say why).
 */
function configuredModelNames(tree: Record<string, unknown>): readonly string[] | undefined {
  if (tree.classifiers !== undefined) {
    const list = classifiersSchema.safeParse(tree.classifiers);
    return list.success ? list.data.map((c) => c.name) : undefined;
  }
  const single = classifierSchema.safeParse(tree.classifier ?? {});
  return single.success ? [single.data.name ?? DEFAULT_CLASSIFIER_NAME] : undefined;
}

/** The configuration as parsed, before derived defaults. */
export type ParsedConfig = z.output<typeof configSchema>;

type Cfg = ParsedConfig;
/** The complete configuration handed to the composition root: every derived default filled in. */
export interface FaceedgeConfig {
  readonly device: { readonly id: string; readonly name: string; readonly tags: readonly string[] };
  readonly mqtt: Omit<Cfg['mqtt'], 'client_id' | 'outbox'> & {
    readonly client_id: string;
    readonly outbox: { readonly dir: string; readonly max_events: number };
  };
  readonly embedded_broker: Cfg['embedded_broker'];
  readonly cameras: Cfg['cameras'];
  readonly detector: Cfg['detector'];
  /** The first model of `classifiers` (what a board with one model reads; `name` as written). */
  readonly classifier: Omit<Cfg['classifier'], 'manifest'> & { readonly manifest: string };
  /** Every model, in config order: `classifiers:`, or `classifier:` as a list of one. */
  readonly classifiers: readonly ResolvedClassifierConfig[];
  readonly tracker: Cfg['tracker'];
  readonly motion_gate: Cfg['motion_gate'];
  readonly http: Cfg['http'];
  readonly log: Cfg['log'];
  readonly gpio: Cfg['gpio'];
  readonly rules: Cfg['rules'];
  readonly access: Cfg['access'];
  readonly homeassistant: Cfg['homeassistant'];
  readonly models: Omit<Cfg['models'], 'dir'> & { readonly dir: string };
  readonly recognition: Omit<Cfg['recognition'], 'gallery'> & { readonly gallery: string };
  readonly state_dir: string;
}

export type DeviceConfig = FaceedgeConfig['device'];
export type MqttConfig = FaceedgeConfig['mqtt'];
export type MqttTlsConfig = NonNullable<MqttConfig['tls']>;
export type EmbeddedBrokerConfig = FaceedgeConfig['embedded_broker'];
export type CameraConfig = FaceedgeConfig['cameras'][number];
export type { CameraSourceConfig } from '../capture/camera-source-schema.js';
export type DetectorConfig = FaceedgeConfig['detector'];
/** One model, with its manifest path and cadence filled in. */
export type ResolvedClassifierConfig = Omit<Cfg['classifier'], 'manifest' | 'name'> & {
  readonly name: string;
  readonly manifest: string;
  /**
   * This model's classify interval, ms; undefined for the first model, which follows
   * `tracker.classify_interval_ms` (also when that is retuned at run time).
   */
  readonly interval_ms?: number;
  /** Its head on the face embedding, with the head's manifest path filled in; absent without `head:`. */
  readonly head?: { readonly model: string; readonly manifest: string };
};
export type ClassifierConfig = FaceedgeConfig['classifier'];
export type TrackerConfig = FaceedgeConfig['tracker'];
export type HttpConfig = FaceedgeConfig['http'];
export type LogConfig = FaceedgeConfig['log'];
export type HomeAssistantConfig = FaceedgeConfig['homeassistant'];
export type ModelsConfig = FaceedgeConfig['models'];
export type RecognitionConfig = FaceedgeConfig['recognition'];
