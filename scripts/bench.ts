/**
 * `npm run bench -- --json`: per-stage latency, end-to-end frames per second on the scene clips
 * (480×270) and on a 1280×720 frame, event latency (frame → subscriber), peak RSS, and the live view's
 * cost (`live_view`: 480×270 frames per second with one overlay-stream viewer vs none), and `recognition`
 * (scripts/bench-recognition.ts: ms per embedding against the detector, first frame → decision latency, fps with
 * recognition on). One JSON object.
 *
 * Frames are fed as JPEGs (what an MJPEG camera delivers), as fast as the pipeline takes them,
 * through the real detector, classifier, tracker, outbox and an in-process MQTT broker.
 *
 * `cpu_per_camera` is what one camera costs the board: process user+sys CPU-seconds per second of camera
 * time (0.12 = 12 % of one core) for a 1280×720 MJPEG stream at 15 fps fed in real time, in three scenes
 * (faces: the demo clips scaled up; still: an empty room; motion: an empty room with noise, flicker and a
 * swaying leaf; scripts/bench-scenes.ts). The pipeline runs as for a live camera (motion gating on where
 * the build has it). `fps_1280x720_by_threads` is the unpaced 1280×720 figure with 1 and 2 inference threads,
 * `fps_1280x720_two_cameras` the sum over two unpaced 1280×720 cameras sharing one detector and classifier.
 *
 * `classify_per_model_ms` is the classify stage per face for each of two models per face (issue 24 §3): the
 * serving model and `--second-model` (default: the shipped int8 model again, on its own 1000 ms cadence,
 * `--second-interval-ms`), run on the scene clips together; `fps_two_models` their frames per second, to set
 * beside `fps_480x270` and the detector's `detector_call_ms`.
 *
 *   tsx scripts/bench.ts [--json] [--model path] [--detector short|full] [--threads N] [--seconds S]
 *                        [--second-model path] [--second-interval-ms N]
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
import { EmbeddedBroker } from '../src/mqtt/embedded-broker.js';
import { MqttOutput } from '../src/mqtt/mqtt-output.js';
import { FaceTracker } from '../src/pipeline/face-tracker.js';
import { Pipeline, type Stage } from '../src/pipeline/pipeline.js';
import { alignFace } from '../src/vision/align-face.js';
import { FaceDetector, type DetectorModel } from '../src/inference/face-detector.js';
import { readFile } from 'node:fs/promises';
import type { LiveView } from '../src/live-view/live-view.js';
import { measureLiveView } from './bench-live-view.js';
import { emptySceneFrames } from './bench-scenes.js';
import { measureRecognition, recognitionRig } from './bench-recognition.js';

// As the daemon does: no libvips operation cache (every frame is new) and one libvips worker.
sharp.cache(false);
sharp.concurrency(1);

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const threads = Number(flag('--threads') ?? 1);
const detectorModel = (flag('--detector') ?? 'short') as DetectorModel;
const seconds = Number(flag('--seconds') ?? 10);
/** Seconds of camera time measured per CPU-per-camera scene (after one second of warm-up). */
const cpuSeconds = Number(flag('--cpu-seconds') ?? 8);
const asJson = args.includes('--json');

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1000) / 1000;
};
const round3 = (v: number) => Math.round(v * 1000) / 1000;
const summary = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99), n: values.length });

/** The bundled clips' frames as JPEG (quality 85), optionally resized. */
async function clipFrames(width?: number, height?: number): Promise<Buffer[]> {
  const dir = join(packageRoot(), 'demo', 'clips');
  const jpegs: Buffer[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.gif'))
    .sort()) {
    const gif = GifComposer.fromBuffer(await readFile(join(dir, file)));
    for (const frame of gif.frames()) {
      let image = sharp(frame.image.data, {
        raw: { width: frame.image.width, height: frame.image.height, channels: 3 },
      });
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
  url,
  deviceId: 'bench',
  log: silentLogger(),
  bridgeInfo: () => ({
    version: 'bench',
    model: null,
    delegate: { active: classifier.delegate.active, fallback_reason: null },
    config: {},
  }),
  mqtt: {
    base_topic: 'faceedge',
    keepalive: 30,
    reconnect_period_ms: 1000,
    client_id: 'faceedge-bench',
    outbox: { dir: join(stateDir, 'outbox'), max_events: 100_000 },
  } as never,
});
await output.start();
await output.waitConnected();

// Event latency: the subscriber notes when each event id arrives; the publisher side knows its frame time.
const frameTimeById = new Map<string, number>();
const eventLatency: number[] = [];
const subscriber = mqtt.connect(url);
await new Promise<void>((resolve) =>
  subscriber.on('connect', () => subscriber.subscribe('faceedge/bench/+/events', () => resolve())),
);
subscriber.on('message', (_topic, payload) => {
  const now = performance.now();
  const { id } = JSON.parse(payload.toString()) as { id: string };
  const at = frameTimeById.get(id);
  if (at !== undefined) eventLatency.push(now - at);
});

/** The tracker of the run in progress, for the live view's boxes. */
let liveTracker: FaceTracker | null = null;
const liveViewDeps = {
  classifier,
  detector,
  detectorModel,
  brokerUrl: url,
  tracks: () => liveTracker?.visibleTracks() ?? [],
  run: async (frames: Buffer[], durationS: number, live: LiveView) =>
    (await run('live', frames, durationS, { live })).fps,
};

const stages: Record<Stage, number[]> = {
  decode: [],
  detect: [],
  align: [],
  classify: [],
  track: [],
  recognize: [],
  publish: [],
};

/** One detector + classifier pair (the bench builds one per thread count). */
interface Rig {
  readonly detector: FaceDetector;
  readonly classifier: FaceClassifier;
}

/**
 * Pipeline options of a live camera, when this build has them (motion gating with its defaults). Loaded
 * by a computed path so the same bench script also compiles and runs on builds without the module (the
 * base build it is compared with); those builds have no gating to switch on.
 */
async function liveCameraOptions(): Promise<Record<string, unknown>> {
  const modulePath = '../src/pipeline/motion-gate.js';
  try {
    const mod = (await import(modulePath)) as { DEFAULT_MOTION_GATE?: object };
    return mod.DEFAULT_MOTION_GATE ? { motionGate: mod.DEFAULT_MOTION_GATE } : {};
  } catch {
    return {};
  }
}

interface RunOptions {
  /** Record per-stage times into `stages`. */
  readonly record?: boolean;
  /** 0 = saturate (the next frame as soon as the pipeline takes one: throughput); else frames/s like a camera. */
  readonly paceFps?: number;
  readonly rig?: Rig;
  /** Extra pipeline options (a live camera's). */
  readonly pipeline?: Record<string, unknown>;
  /** Seconds at the start not counted in `cpu` (JIT, first-frame allocations). Default 0. */
  readonly warmupS?: number;
  /** A live view fed every processed frame, as the daemon feeds it. */
  readonly live?: LiveView;
  /** A second model per face (`classifiers:`), on its own cadence; its and the first's classify times per face recorded. */
  readonly second?: { readonly classifier: FaceClassifier; readonly intervalMs: number };
}

/** Classify time per face of each model in the two-model run (`classify_per_model_ms`). */
const perModelClassify: [number[], number[]] = [[], []];

/**
 * Runs the pipeline over `frames` (looped) for `durationS`; returns processed frames per second and the
 * process CPU-seconds per wall second after the warm-up. Paced runs feed frames like a camera, which is
 * what event latency and CPU per camera are about.
 */
async function run(
  camera: string,
  frames: Buffer[],
  durationS: number,
  options: RunOptions = {},
): Promise<{ fps: number; cpu: number; faceShare: number }> {
  const { record = false, paceFps = 0, rig = { detector, classifier }, warmupS = 0, live } = options;
  let faceFrames = 0;
  const slot = new LatestFrameSlot();
  const second = options.second;
  const tracker = new FaceTracker({
    camera,
    labels: rig.classifier.labels,
    model: rig.classifier.id,
    minFrames: 2,
    updateIntervalMs: 500,
    ...(second && {
      attributeName: 'first',
      moreModels: [{ name: 'second', labels: second.classifier.labels, classifyIntervalMs: second.intervalMs }],
    }),
  });
  liveTracker = tracker;
  let processed = 0;
  const perFrame = { align: 0, classify: 0 };
  const pipeline = new Pipeline({
    ...options.pipeline,
    camera,
    slot,
    detector: rig.detector,
    classifier: () => rig.classifier,
    ...(second && { moreClassifiers: () => [second.classifier] }),
    tracker,
    log: silentLogger(),
    minFacePx: 20,
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
      // align and classify are reported per face classified, over frames that classify some: a
      // per-frame median would mostly count frames without.
      stage: (s, ms) => {
        if (!record) return;
        if (s === 'align' || s === 'classify') perFrame[s] = ms;
        else stages[s].push(ms);
      },
      classify: (model, ms, faces) => void (second && perModelClassify[model]?.push(ms / faces)),
      frame: (f, faces, classified = faces) => {
        live?.frame(camera, f);
        processed++;
        if (faces > 0) faceFrames++;
        // Per face classified (builds since issue 14 classify a tracked face at most every 200 ms).
        if (record && classified > 0) {
          stages.align.push(perFrame.align / classified);
          stages.classify.push(perFrame.classify / classified);
        }
      },
    },
  });
  const done = pipeline.start();
  const started = performance.now();
  let cpuFrom: { at: number; usage: NodeJS.CpuUsage } | null =
    warmupS > 0 ? null : { at: started, usage: process.cpuUsage() };
  let seq = 0;
  while (performance.now() - started < durationS * 1000) {
    if (!cpuFrom && performance.now() - started >= warmupS * 1000)
      cpuFrom = { at: performance.now(), usage: process.cpuUsage() };
    const frame: Frame = {
      seq,
      timestampMs: performance.now(),
      wallTimeMs: Date.now(),
      image: { kind: 'encoded', data: frames[seq % frames.length], origin: `bench#${seq}` },
    };
    seq++;
    slot.put(frame);
    if (paceFps > 0)
      await new Promise((r) => setTimeout(r, Math.max(0, started + (seq * 1000) / paceFps - performance.now())));
    else await slot.whenEmpty();
  }
  const cpuUsed = process.cpuUsage(cpuFrom!.usage);
  const cpuWall = performance.now() - cpuFrom!.at;
  slot.end();
  await done;
  return {
    fps: processed / ((performance.now() - started) / 1000),
    cpu: (cpuUsed.user + cpuUsed.system) / 1000 / cpuWall,
    faceShare: faceFrames / Math.max(1, processed),
  };
}

/** CPU-seconds per second of the paced feed alone: frames put into a slot and taken, nothing processed. */
async function harnessCpu(frames: Buffer[], durationS: number, paceFps: number, warmupS: number): Promise<number> {
  const slot = new LatestFrameSlot();
  const consumer = (async () => {
    while (await slot.next()) {
      // taken and dropped
    }
  })();
  const started = performance.now();
  let from: { at: number; usage: NodeJS.CpuUsage } | null = null;
  for (let seq = 0; performance.now() - started < durationS * 1000;) {
    if (!from && performance.now() - started >= warmupS * 1000)
      from = { at: performance.now(), usage: process.cpuUsage() };
    slot.put({
      seq,
      timestampMs: performance.now(),
      wallTimeMs: Date.now(),
      image: { kind: 'encoded', data: frames[seq % frames.length], origin: `idle#${seq}` },
    });
    seq++;
    await new Promise((r) => setTimeout(r, Math.max(0, started + (seq * 1000) / paceFps - performance.now())));
  }
  const used = process.cpuUsage(from!.usage);
  const wall = performance.now() - from!.at;
  slot.end();
  await consumer;
  return (used.user + used.system) / 1000 / wall;
}

// Classifier and detector invoke alone (the model-path targets), on real crops.
const clips = await clipFrames();
const sample = await sharp(clips[clips.length - 1])
  .raw()
  .toBuffer({ resolveWithObject: true });
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

await run('warmup', clips, 2);
const fps480 = (await run('clips', clips, seconds, { record: true })).fps;
// Event latency at a camera's pace (30 fps): saturated runs would mostly measure the slot's wait.
frameTimeById.clear();
eventLatency.length = 0;
await run('paced', clips, seconds, { paceFps: 30 });
const pacedLatency = [...eventLatency];
frameTimeById.clear();
const liveView = await measureLiveView(clips, seconds, liveViewDeps);
// The worst case: only the clip frames with a face, so every picture is decoded, drawn and encoded.
const faceFrames: Buffer[] = [];
for (const jpeg of clips) {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  if (
    (await detector.detect({ kind: 'rgb', data, width: info.width, height: info.height })).some(
      (f) => f.box.width >= 20,
    )
  )
    faceFrames.push(jpeg);
}
const liveViewFaces = { ...(await measureLiveView(faceFrames, seconds, liveViewDeps)), frames: faceFrames.length };
const hd = await clipFrames(1280, 720);
// Recognition (issue 23): ms per embedding and anti-spoof score beside the detector's, first frame → decision
// at 15 fps, fps at 480×270 with recognition on (scripts/bench-recognition.ts).
const recognizing = await recognitionRig(detector, classifier, threads);
const recognition = await measureRecognition(recognizing, clips, seconds);
await recognizing.embedder.close();
await recognizing.antiSpoof.close();
const fps720 = (await run('hd', hd, seconds / 2)).fps;
// The same without decode/inference overlap (builds that have the option; others run as above).
const fps720Sequential = (await run('hd-seq', hd, seconds / 2, { pipeline: { overlapDecode: false } })).fps;
const fps480Sequential = (await run('clips-seq', clips, seconds / 2, { pipeline: { overlapDecode: false } })).fps;
// Two models per face on the scene clips: the classify stage of each, per face.
const secondModel = await FaceClassifier.create({ modelPath: resolveModelPath(flag('--second-model')), threads });
const secondIntervalMs = Number(flag('--second-interval-ms') ?? 1000);
const fpsTwoModels = (
  await run('two-models', clips, seconds / 2, { second: { classifier: secondModel, intervalMs: secondIntervalMs } })
).fps;
await secondModel.close();
// Two 1280×720 cameras sharing the detector and classifier, unpaced: frames per second over both.
const twoCameras = await Promise.all([
  run('hd-a', hd, seconds / 2),
  run('hd-b', [...hd.slice(hd.length / 2), ...hd.slice(0, hd.length / 2)], seconds / 2),
]);
const fps720TwoCameras = twoCameras[0].fps + twoCameras[1].fps;

// Two inference threads: the same unpaced runs with a second detector + classifier pair.
const rig2: Rig = {
  detector: await FaceDetector.create({ model: detectorModel, threads: 2 }),
  classifier: await FaceClassifier.create({ modelPath: resolveModelPath(flag('--model')), threads: 2 }),
};
const fps720Threads2 = (await run('hd2', hd, seconds / 2, { rig: rig2 })).fps;
const fps480Threads2 = (await run('clips2', clips, seconds / 2, { rig: rig2 })).fps;
await rig2.classifier.close();
await rig2.detector.close();

// CPU per camera: a 1280×720 MJPEG camera at 15 fps, paced in real time, as a live camera runs. The
// full-range detector: the scaled-up clips' faces are 100-150 px, too small for short range at 1280×720.
const live = await liveCameraOptions();
const cpuRig: Rig = { detector: await FaceDetector.create({ model: 'full', threads }), classifier };
const cpuScene = (name: string, frames: Buffer[]) =>
  run(name, frames, cpuSeconds + 1, { paceFps: 15, warmupS: 1, pipeline: live, rig: cpuRig });
const cpuFaces = await cpuScene('cpu-faces', hd);
const cpuStill = await cpuScene('cpu-still', await emptySceneFrames('still', 30));
const cpuMotion = await cpuScene('cpu-motion', await emptySceneFrames('motion', 90));
const cpuHarness = await harnessCpu(hd, cpuSeconds + 1, 15, 1);
await cpuRig.detector.close();
await new Promise((r) => setTimeout(r, 500)); // last events reach the subscriber

const result = {
  fps_480x270: Math.round(fps480 * 10) / 10,
  fps_1280x720: Math.round(fps720 * 10) / 10,
  fps_1280x720_by_threads: { [threads]: Math.round(fps720 * 10) / 10, 2: Math.round(fps720Threads2 * 10) / 10 },
  fps_1280x720_two_cameras: Math.round(fps720TwoCameras * 10) / 10,
  fps_no_overlap: {
    '1280x720': Math.round(fps720Sequential * 10) / 10,
    '480x270': Math.round(fps480Sequential * 10) / 10,
  },
  fps_480x270_by_threads: { [threads]: Math.round(fps480 * 10) / 10, 2: Math.round(fps480Threads2 * 10) / 10 },
  cpu_per_camera: {
    faces: round3(cpuFaces.cpu),
    still: round3(cpuStill.cpu),
    motion: round3(cpuMotion.cpu),
    // Share of processed frames in which faces were found (sanity: the faces scene has them, the empty ones not).
    // The same paced feed into a slot that a consumer empties without processing: what the bench process
    // (timers, in-process broker, garbage collection) costs by itself, included in the three figures.
    harness: round3(cpuHarness),
    frames_with_faces: {
      faces: round3(cpuFaces.faceShare),
      still: round3(cpuStill.faceShare),
      motion: round3(cpuMotion.faceShare),
    },
    fps: 15,
    width: 1280,
    height: 720,
    detector: 'full',
    live_options: Object.keys(live),
  },
  event_latency_ms: summary(pacedLatency),
  stages_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summary(v)])),
  classifier_invoke_ms: summary(classifyInvoke),
  classify_per_model_ms: {
    [classifier.id]: summary(perModelClassify[0]),
    second: { ...summary(perModelClassify[1]), interval_ms: secondIntervalMs },
  },
  fps_two_models: Math.round(fpsTwoModels * 10) / 10,
  detector_call_ms: summary(detectTotal),
  live_view: liveView,
  recognition,
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
