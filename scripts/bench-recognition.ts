/**
 * The bench's `recognition` figure (issue 23 §3), also runnable alone:
 *
 *   tsx scripts/bench-recognition.ts [--seconds S] [--threads N] [--detector short|full] [--models-only]
 *
 * - `embed_ms`: one embedding as the daemon makes it (the shipped embedder, test-time flip as its manifest
 *   says: two inferences), on the clips' faces; `detect_ms` the detector on the same frames in the same run,
 *   and `embed_to_detect_p50` their ratio;
 * - `anti_spoof_ms`: one P(live) of the anti-spoofing network on the same faces;
 * - `decision_latency_ms`: from a track's first frame (its `start_time`) to the event that first carries its
 *   decision, on the head-pose test clip (`doorClipJpegs`) fed at 15 fps like a camera (gallery: one enrolled stand-in, so that every track
 *   is embedded);
 * - `fps_480x270`: frames per second on the clips, unpaced, with recognition on; `fps_480x270_recognition_off`
 *   the same pipeline without it, alternated with it in the same run, and `fps_on_to_off` their ratio.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { GifComposer } from '../src/capture/gif-composer.js';
import type { Frame } from '../src/capture/frame.js';
import { LatestFrameSlot } from '../src/capture/latest-frame-slot.js';
import { decodeImage } from '../src/capture/decode-image.js';
import { FaceClassifier } from '../src/inference/face-classifier.js';
import { FaceDetector } from '../src/inference/face-detector.js';
import { FaceEmbedder, l2Normalize } from '../src/inference/face-embedder.js';
import {
  packageRoot,
  shippedAntiSpoofPath,
  shippedEmbedderPath,
  shippedModelPath,
} from '../src/inference/shipped-model.js';
import { AntiSpoofNetwork } from '../src/liveness/anti-spoof-network.js';
import { TrackLivenessCheck } from '../src/liveness/track-liveness-check.js';
import { silentLogger } from '../src/observability/logger.js';
import { FaceTracker } from '../src/pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector } from '../src/pipeline/pipeline.js';
import type { TrackEvent } from '../src/pipeline/track-event.js';
import type { GalleryContents } from '../src/recognition/gallery-contents.js';
import { GalleryTrackRecognizer } from '../src/recognition/track-recognizer.js';
import { DEFAULT_EMBEDDINGS_PER_TRACK } from '../src/recognition/recognition-config-schema.js';

export interface RecognitionRig {
  readonly detector: FaceDetector;
  readonly classifier: Classifier & { readonly id: string; readonly labels: readonly string[] };
  readonly embedder: FaceEmbedder;
  readonly antiSpoof: AntiSpoofNetwork;
}

type Summary = { p50: number | null; p99: number | null; n: number };

function summary(values: number[]): Summary {
  const at = (p: number) => {
    if (values.length === 0) return null;
    const s = [...values].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
  };
  return { p50: at(50), p99: at(99), n: values.length };
}

/** A gallery of one stand-in person (a random unit vector): every track is embedded, nobody is named. */
function standInGallery(embedder: FaceEmbedder): GalleryContents {
  const v = l2Normalize(Array.from({ length: embedder.dimensions }, () => Math.random() - 0.5));
  const stamp = { at: Date.now(), by: 'bench' };
  return {
    galleryId: randomUUID(),
    model: { id: embedder.id, dimensions: embedder.dimensions },
    version: 1,
    people: [{ name: 'stand-in', changed: stamp, embeddings: [v] }],
    tombstones: [],
  };
}

/** Embedding, detection and anti-spoofing times on the faces of `frames`, at most `limit` faces. */
export async function modelTimes(rig: RecognitionRig, frames: readonly Buffer[], limit = 200) {
  const embed: number[] = [];
  const detect: number[] = [];
  const antiSpoof: number[] = [];
  for (const [i, jpeg] of frames.entries()) {
    if (embed.length >= limit) break;
    const image = await decodeImage(jpeg, `bench#${i}`);
    let t = performance.now();
    const faces = await rig.detector.detect(image);
    detect.push(performance.now() - t);
    for (const face of faces.slice(0, 1)) {
      const crop = rig.embedder.crop(image, face);
      t = performance.now();
      await rig.embedder.embedCrop(crop);
      embed.push(performance.now() - t);
      t = performance.now();
      await rig.antiSpoof.score(image, face.box);
      antiSpoof.push(performance.now() - t);
    }
  }
  return { embed, detect, antiSpoof };
}

/**
 * Runs a pipeline over `frames` (looped) for `seconds`; `paceFps` 0 = as fast as it goes. `recognize` false: the
 * same pipeline without a recognizer (the fps baseline of the same run).
 */
async function runPipeline(
  rig: RecognitionRig,
  frames: readonly Buffer[],
  seconds: number,
  paceFps: number,
  recognize = true,
) {
  const recognizer = new GalleryTrackRecognizer({
    embedder: rig.embedder,
    liveness: new TrackLivenessCheck({ network: rig.antiSpoof }),
    gallery: standInGallery(rig.embedder),
    threshold: rig.embedder.threshold,
    margin: 0.02,
    embeddingsPerTrack: DEFAULT_EMBEDDINGS_PER_TRACK,
    onDecision: (d) => void (decisions += d.cause === 'frames' ? 1 : 0),
    // A decision that fails must show in the figure, not vanish (the latency would be measured on nothing).
    onError: (err) => errors.push(err instanceof Error ? err.message : String(err)),
  });
  const tracker = new FaceTracker({ camera: 'bench', labels: rig.classifier.labels, model: rig.classifier.id });
  const slot = new LatestFrameSlot();
  const latency: number[] = [];
  const errors: string[] = [];
  const decided = new Set<string>();
  let processed = 0;
  let decisions = 0;
  let eventCount = 0;
  const onEvents = (events: readonly TrackEvent[]) => {
    const now = Date.now();
    eventCount += events.length;
    for (const e of events) {
      const s = e.after;
      if (decided.has(s.id) || !s.person || (s.person.similarity === null && s.liveness?.outcome === 'unknown'))
        continue;
      decided.add(s.id);
      latency.push(now - s.start_time * 1000);
    }
  };
  const pipeline = new Pipeline({
    camera: 'bench',
    slot,
    detector: rig.detector as Detector,
    classifier: () => rig.classifier,
    tracker,
    log: silentLogger(),
    minFacePx: 20,
    ...(recognize && { recognizer }),
    sink: { events: (_c, events) => onEvents(events), facePresence: () => undefined },
    observer: { frame: () => void processed++ },
  });
  const done = pipeline.start();
  const started = performance.now();
  let seq = 0;
  while (performance.now() - started < seconds * 1000) {
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
  const elapsed = (performance.now() - started) / 1000;
  slot.end();
  await done;
  return { fps: processed / elapsed, latency, errors, tracks: decided.size, events: eventCount, decisions };
}

/**
 * A door's view for the decision latency: the head-pose clip of the test scenes (two people in turn, faces of
 * 66–77 px, CC BY 4.0, test/fixtures/scenes/README.md). The demo clips' faces are too small and brief for the
 * short-range detector to keep a track through a decision window (their paced run decided no track).
 */
export function doorClipJpegs(): Promise<Buffer[]> {
  return clipJpegs(join(packageRoot(), 'test', 'fixtures', 'scenes'), (f) => f.startsWith('head-pose'));
}

/** The `recognition` figure of the bench (see the file's comment). */
export async function measureRecognition(rig: RecognitionRig, frames: readonly Buffer[], seconds: number) {
  const times = await modelTimes(rig, frames);
  const paced = await runPipeline(rig, await doorClipJpegs(), seconds, 15);
  // On and off alternate, twice each, so that a change of the machine's load between them shows in both.
  const fps = { on: [] as number[], off: [] as number[] };
  let decisions = 0;
  for (let i = 0; i < 2; i++) {
    fps.off.push((await runPipeline(rig, frames, seconds / 4, 0, false)).fps);
    const on = await runPipeline(rig, frames, seconds / 4, 0, true);
    fps.on.push(on.fps);
    decisions += on.decisions;
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const round1 = (v: number) => Math.round(v * 10) / 10;
  const embed = summary(times.embed);
  const detect = summary(times.detect);
  return {
    embed_ms: embed,
    detect_ms: detect,
    embed_to_detect_p50: embed.p50 !== null && detect.p50 ? Math.round((embed.p50 / detect.p50) * 100) / 100 : null,
    anti_spoof_ms: summary(times.antiSpoof),
    decision_latency_ms: summary(paced.latency),
    decision_errors: [...new Set(paced.errors)].slice(0, 3),
    paced_events: paced.events,
    fps_480x270: round1(mean(fps.on)),
    fps_480x270_recognition_off: round1(mean(fps.off)),
    fps_on_to_off: Math.round((mean(fps.on) / mean(fps.off)) * 100) / 100,
    fps_runs: { on: fps.on.map(round1), off: fps.off.map(round1), decisions },
    embedder: { id: rig.embedder.id, flip_average: rig.embedder.flipAverage, delegate: rig.embedder.delegate.active },
  };
}

/** The bundled clips' frames as JPEG (quality 85), as the bench feeds them. */
export async function clipJpegs(
  dir = join(packageRoot(), 'demo', 'clips'),
  only: (file: string) => boolean = () => true,
): Promise<Buffer[]> {
  const jpegs: Buffer[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.gif') && only(f))
    .sort()) {
    for (const frame of GifComposer.fromBuffer(await readFile(join(dir, file))).frames()) {
      const { width, height } = frame.image;
      jpegs.push(
        await sharp(frame.image.data, { raw: { width, height, channels: 3 } })
          .jpeg({ quality: 85 })
          .toBuffer(),
      );
    }
  }
  return jpegs;
}

/** Loads the shipped embedder and anti-spoofing network beside a bench's detector and classifier. */
export async function recognitionRig(detector: FaceDetector, classifier: RecognitionRig['classifier'], threads = 1) {
  const embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath(), threads });
  const antiSpoof = await AntiSpoofNetwork.create({ modelPath: shippedAntiSpoofPath(), threads });
  return { detector, classifier, embedder, antiSpoof };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  sharp.cache(false);
  sharp.concurrency(1);
  const args = process.argv.slice(2);
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const threads = Number(flag('--threads') ?? 1);
  const detector = await FaceDetector.create({ model: flag('--detector') === 'full' ? 'full' : 'short', threads });
  const classifier = await FaceClassifier.create({ modelPath: shippedModelPath(), threads });
  const rig = await recognitionRig(detector, classifier, threads);
  const frames = await clipJpegs();
  // --models-only: the per-call model times alone (no pipeline runs), for a loaded machine.
  const result = args.includes('--models-only')
    ? Object.fromEntries(Object.entries(await modelTimes(rig, frames, 100)).map(([k, v]) => [k, summary(v)]))
    : await measureRecognition(rig, frames, Number(flag('--seconds') ?? 10));
  console.log(JSON.stringify(result, null, 2));
  await Promise.all([rig.embedder.close(), rig.antiSpoof.close(), classifier.close(), detector.close()]);
}
