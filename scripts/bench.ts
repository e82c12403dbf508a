/**
 * `npm run bench -- --json`: per-stage latency, end-to-end frames per second on the scene clips
 * (480×270) and on a 1280×720 frame, event latency (frame → subscriber), peak RSS, and the live view's
 * cost (`live_view`: 480×270 frames per second with one overlay-stream viewer vs none). One JSON object.
 *
 * Frames are fed as JPEGs (what an MJPEG camera delivers), as fast as the pipeline takes them,
 * through the real detector, classifier, tracker, outbox and an in-process MQTT broker.
 *
 *   tsx scripts/bench.ts [--json] [--model path] [--detector short|full] [--threads N] [--seconds S]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { GifComposer } from '../src/capture/gif-composer.js';
import type { Frame } from '../src/capture/frame.js';
import { LatestFrameSlot } from '../src/capture/latest-frame-slot.js';
import { FaceClassifier } from '../src/inference/face-classifier.js';
import { packageRoot, resolveModelPath } from '../src/inference/shipped-model.js';
import { silentLogger } from '../src/observability/logger.js';
import { EmbeddedBroker } from '../src/outputs/embedded-broker.js';
import { MqttOutput } from '../src/outputs/mqtt-output.js';
import { FaceTracker } from '../src/pipeline/face-tracker.js';
import { Pipeline, type Stage } from '../src/pipeline/pipeline.js';
import { alignFace } from '../src/vision/align-face.js';
import { FaceDetector, type DetectorModel } from '../src/inference/face-detector.js';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { LiveViewRoutes } from '../src/live-view/live-view-routes.js';
import { LiveView } from '../src/live-view/live-view.js';
import { HealthServer } from '../src/observability/health-server.js';
import { DaemonMetrics } from '../src/observability/metrics.js';

// As the daemon does: no libvips operation cache (every frame is new) and one libvips worker.
sharp.cache(false);
sharp.concurrency(1);

const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const threads = Number(flag('--threads') ?? 1);
const detectorModel = (flag('--detector') ?? 'short') as DetectorModel;
const seconds = Number(flag('--seconds') ?? 10);
const asJson = args.includes('--json');

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1000) / 1000;
};
const summary = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99), n: values.length });

/** The bundled clips' frames as JPEG (quality 85), optionally resized. */
async function clipFrames(width?: number, height?: number): Promise<Buffer[]> {
  const dir = join(packageRoot(), 'demo', 'clips');
  const jpegs: Buffer[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.gif')).sort()) {
    const gif = GifComposer.fromBuffer(await readFile(join(dir, file)));
    for (const frame of gif.frames()) {
      let image = sharp(frame.image.data, { raw: { width: frame.image.width, height: frame.image.height, channels: 3 } });
      if (width && height) image = image.resize(width, height);
      jpegs.push(await image.jpeg({ quality: 85 }).toBuffer());
    }
  }
  return jpegs;
}

const detector = await FaceDetector.create({ model: detectorModel, threads });
const classifier = await FaceClassifier.create({ modelPath: resolveModelPath(flag('--model')), threads });
const broker = new EmbeddedBroker({ port: 0, log: silentLogger() });
const url = await broker.start();
const stateDir = mkdtempSync(join(tmpdir(), 'faceedge-bench-'));
const output = new MqttOutput({
  url, deviceId: 'bench', log: silentLogger(), bridgeInfo: () => ({ version: 'bench', model: null, delegate: { active: classifier.delegate.active, fallback_reason: null }, config: {} }),
  mqtt: { base_topic: 'faceedge', keepalive: 30, reconnect_period_ms: 1000, client_id: 'faceedge-bench', outbox: { dir: join(stateDir, 'outbox'), max_events: 100_000 } } as never,
});
await output.start();
await output.waitConnected();

// Event latency: the subscriber notes when each event id arrives; the publisher side knows its frame time.
const frameTimeById = new Map<string, number>();
const eventLatency: number[] = [];
const subscriber = mqtt.connect(url);
await new Promise<void>((resolve) => subscriber.on('connect', () => subscriber.subscribe('faceedge/bench/+/events', () => resolve())));
subscriber.on('message', (_topic, payload) => {
  const now = performance.now();
  const { id } = JSON.parse(payload.toString()) as { id: string };
  const at = frameTimeById.get(id);
  if (at !== undefined) eventLatency.push(now - at);
});

/** The tracker of the run in progress, for the live view's boxes. */
let liveTracker: FaceTracker | null = null;

/**
 * The live view's cost as the daemon pays it: its HTTP routes on a real server, the pipeline feeding
 * every processed frame to it, and either no page open or one MJPEG viewer reading the overlay stream
 * over loopback, alternating.
 */
async function measureLiveView(frames: Buffer[], durationS: number) {
  const camera = { name: 'live', frames: 0, paused: false, slot: { stats: () => ({ dropped: 0 }) }, visibleTracks: () => liveTracker?.visibleTracks() ?? [] };
  const board = () => ({ version: 'bench', device: 'bench', model: { id: classifier.id, sha256: classifier.sha256, threshold: null, labels: classifier.labels },
    delegate: { active: classifier.delegate.active, fallback_reason: null }, detector: { model: detectorModel, delegate: detector.delegate.active },
    mqtt: { connected: true, outbox_depth: 0, broker: url }, gpio: { outputs: [], inputs: [] }, cpu_temperature_c: null });
  const live = new LiveView({ cameras: [camera], board, labels: () => classifier.labels, snapshots: false, log: silentLogger() });
  const routes = new LiveViewRoutes({ live, log: silentLogger() });
  const server = new HealthServer({ host: '127.0.0.1', port: 0, health: () => ({ started: true, broker_connected: true, last_frame_age_ms: {}, model: null }),
    metrics: new DaemonMetrics(), log: silentLogger(), routes: (req, res) => routes.handle(req, res) });
  await server.start();
  const fps = { none: [] as number[], one: [] as number[] };
  // CPU time per frame (this process, all threads) is the cost itself; frames/s also moves with whatever
  // else the machine runs, so both are reported.
  const cpuMsPerFrame = { none: [] as number[], one: [] as number[] };
  const measure = async (kind: 'none' | 'one') => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const rate = await run('live', frames, durationS / 8, false, 0, live);
    const used = process.cpuUsage(cpu);
    fps[kind].push(rate);
    cpuMsPerFrame[kind].push((used.user + used.system) / 1000 / (rate * ((performance.now() - started) / 1000)));
  };
  let bytes = 0;
  const feed = live.feed('live')!;
  const encodedBefore = feed.encodedCount;
  let withFaces = 0;
  let viewingS = 0;
  // A B B A A B B A: a trend over the measurement (the machine's other load, the outbox filling) hits both alike.
  for (const kind of ['none', 'one', 'one', 'none', 'none', 'one', 'one', 'none'] as const) {
    if (kind === 'none') {
      await measure('none');
      continue;
    }
    const viewer = await new Promise<http.ClientRequest>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/live/cameras/live/stream.mjpeg' }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        resolve(req);
      });
    });
    // Counted only while the viewer watches: a subscriber is a viewer, and "none" must have none.
    const unsubscribe = feed.subscribe((picture) => void (picture.faces > 0 && withFaces++));
    const started = performance.now();
    await measure('one');
    viewingS += (performance.now() - started) / 1000;
    unsubscribe();
    viewer.destroy();
  }
  live.close();
  await server.stop();
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const round1 = (v: number) => Math.round(v * 10) / 10;
  return {
    fps_no_viewer: round1(mean(fps.none)),
    fps_one_viewer: round1(mean(fps.one)),
    ratio: Math.round((mean(fps.one) / mean(fps.none)) * 1000) / 1000,
    cpu_ms_per_frame_no_viewer: Math.round(mean(cpuMsPerFrame.none) * 1000) / 1000,
    cpu_ms_per_frame_one_viewer: Math.round(mean(cpuMsPerFrame.one) * 1000) / 1000,
    pictures_per_s: round1((feed.encodedCount - encodedBefore) / viewingS),
    /** Share of those pictures that had faces drawn (the others were the camera's JPEG as it came). */
    pictures_with_faces: Math.round((withFaces / Math.max(1, feed.encodedCount - encodedBefore)) * 100) / 100,
    stream_kb_per_s: Math.round(bytes / 1024 / viewingS),
  };
}

const stages: Record<Stage, number[]> = { decode: [], detect: [], align: [], classify: [], track: [], publish: [] };

/**
 * Runs the pipeline over `frames` (looped) for `durationS`; returns processed frames per second.
 * `paceFps` 0 = saturate (the next frame as soon as the pipeline takes one: throughput); otherwise
 * frames arrive like a camera's, which is what event latency is about.
 */
async function run(camera: string, frames: Buffer[], durationS: number, record: boolean, paceFps = 0, live?: LiveView): Promise<number> {
  const slot = new LatestFrameSlot();
  const tracker = new FaceTracker({ camera, labels: classifier.labels, model: classifier.id, minFrames: 2, updateIntervalMs: 500 });
  liveTracker = tracker;
  let processed = 0;
  const perFrame = { align: 0, classify: 0 };
  const pipeline = new Pipeline({
    camera, slot, detector, classifier: () => classifier, tracker, log: silentLogger(), minFacePx: 20,
    sink: {
      events: (_cam, events) => {
        for (const e of events) {
          const entry = output.publishEvent(e);
          if (entry && e.frame_timestamp_ms !== undefined) frameTimeById.set(entry.id, e.frame_timestamp_ms);
        }
      },
      facePresence: (cam, present) => output.setFace(cam, present),
    },
    observer: {
      // align and classify are reported per face, over frames that have faces: a per-frame median
      // would mostly count empty frames.
      stage: (s, ms) => {
        if (!record) return;
        if (s === 'align' || s === 'classify') perFrame[s] = ms;
        else stages[s].push(ms);
      },
      frame: (f, faces) => {
        live?.frame(camera, f);
        processed++;
        if (record && faces > 0) {
          stages.align.push(perFrame.align / faces);
          stages.classify.push(perFrame.classify / faces);
        }
      },
    },
  });
  const done = pipeline.start();
  const started = performance.now();
  let seq = 0;
  while (performance.now() - started < durationS * 1000) {
    const frame: Frame = { seq, timestampMs: performance.now(), wallTimeMs: Date.now(), image: { kind: 'encoded', data: frames[seq % frames.length], origin: `bench#${seq}` } };
    seq++;
    slot.put(frame);
    if (paceFps > 0) await new Promise((r) => setTimeout(r, Math.max(0, started + (seq * 1000) / paceFps - performance.now())));
    else await slot.whenEmpty();
  }
  slot.end();
  await done;
  return processed / ((performance.now() - started) / 1000);
}

// Classifier and detector invoke alone (the model-path targets), on real crops.
const clips = await clipFrames();
const sample = await sharp(clips[clips.length - 1]).raw().toBuffer({ resolveWithObject: true });
const sampleImage = { kind: 'rgb' as const, data: sample.data, width: sample.info.width, height: sample.info.height };
const faces = await detector.detect(sampleImage);
const crop = faces.length > 0 ? alignFace(sampleImage, faces[0], classifier.alignment) : Buffer.alloc(64 * 64 * 3, 128);
const classifyInvoke: number[] = [];
for (let i = 0; i < 2000; i++) {
  const t = performance.now();
  classifier.classifySync(crop);
  classifyInvoke.push(performance.now() - t);
}
const detectTotal: number[] = [];
for (let i = 0; i < 300; i++) {
  const t = performance.now();
  await detector.detect(sampleImage);
  detectTotal.push(performance.now() - t);
}

await run('warmup', clips, 2, false);
const fps480 = await run('clips', clips, seconds, true);
// Event latency at a camera's pace (30 fps): saturated runs would mostly measure the slot's wait.
frameTimeById.clear();
eventLatency.length = 0;
await run('paced', clips, seconds, false, 30);
const pacedLatency = [...eventLatency];
frameTimeById.clear();
const liveView = await measureLiveView(clips, seconds);
// The worst case: only the clip frames with a face, so every picture is decoded, drawn and encoded.
const faceFrames: Buffer[] = [];
for (const jpeg of clips) {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  if ((await detector.detect({ kind: 'rgb', data, width: info.width, height: info.height })).some((f) => f.box.width >= 20)) faceFrames.push(jpeg);
}
const liveViewFaces = { ...(await measureLiveView(faceFrames, seconds)), frames: faceFrames.length };
const hd = await clipFrames(1280, 720);
const fps720 = await run('hd', hd, seconds / 2, false);
await new Promise((r) => setTimeout(r, 500)); // last events reach the subscriber

const result = {
  fps_480x270: Math.round(fps480 * 10) / 10,
  fps_1280x720: Math.round(fps720 * 10) / 10,
  event_latency_ms: summary(pacedLatency),
  stages_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summary(v)])),
  classifier_invoke_ms: summary(classifyInvoke),
  detector_call_ms: summary(detectTotal),
  live_view: liveView,
  live_view_faces_only: liveViewFaces,
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  delegate: classifier.delegate.active,
  detector: { model: detectorModel, delegate: detector.delegate.active },
  threads,
  model: { id: classifier.id, input: classifier.inputDtype },
  frames_per_clip_set: clips.length,
};

subscriber.end(true);
await output.stop();
await broker.stop();
await classifier.close();
await detector.close();
rmSync(stateDir, { recursive: true, force: true });
if (asJson) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
process.exit(0);
