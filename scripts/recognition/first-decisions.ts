/**
 * First-attempt outcomes of the door's decision window (issue 23 §3), for each window rule
 * (src/recognition/track-window.ts `WindowClose`), on real faces through the real pipeline (short-range
 * detector, tracker, shipped embedder and anti-spoofing network, the manifest's threshold and margin):
 *
 *   tsx scripts/recognition/first-decisions.ts [--people N] [--strangers N]
 *
 * - faces-dev people (`/work/shared/data/faces-dev/val`, or FACEEDGE_FACES_DEV): N people enrolled from one
 *   photo each; the camera shows each one's other photo as a still (as test/integration/door-end-to-end.test.ts
 *   does), and photos of N other people as strangers;
 * - the head-pose scene clips (test/fixtures/scenes, and the single-person clips of /work/shared/data/scenes):
 *   each of the two people is enrolled from frames of their own single-person clip, the other one left out,
 *   and the two-person clip is shown: a track of the enrolled person should be named, the other's not. The
 *   enrolment frames come from the same recording as the probe clip (not the same frames' order), so this
 *   part measures the window's choice of frames, not the embedder's accuracy.
 *
 * Frames are fed one at a time and every decision is awaited before the next frame (`idle`), so the outcome
 * does not depend on the machine's load. Per rule: tracks decided, of them named right / unknown / named wrong
 * (enrolled), named as someone (strangers), and the frame of the first decision (counted from the track's
 * first frame handed to recognition).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { shippedModelPath } from '../../src/inference/shipped-model.js';
import { TrackLivenessCheck } from '../../src/liveness/track-liveness-check.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { Pipeline, type Detector } from '../../src/pipeline/pipeline.js';
import type { GalleryContents } from '../../src/recognition/gallery-contents.js';
import { manifestMargin } from '../../src/recognition/gallery-identify.js';
import { photoFace } from '../../src/recognition/gallery-photo.js';
import { DEFAULT_EMBEDDINGS_PER_TRACK } from '../../src/recognition/recognition-config-schema.js';
import { GalleryTrackRecognizer, meanEmbedding } from '../../src/recognition/track-recognizer.js';
import type { WindowClose } from '../../src/recognition/track-window.js';
import { clipJpegs, recognitionRig, type RecognitionRig } from '../bench-recognition.js';

const RULES: readonly WindowClose[] = ['good-frames', 'full-window'];

/** The hook's work, counted over a run (per-frame work against per-decision work). */
const work = { frames: 0, crops: 0, fullImages: 0, embeddings: 0, livenessScores: 0 };

interface FirstDecision {
  readonly name: string | null;
  /** The track's frame (1 = its first handed to recognition) whose window closed. */
  readonly frame: number;
}

function galleryOf(rig: RecognitionRig, people: ReadonlyMap<string, Float32Array>): GalleryContents {
  const stamp = { at: Date.now(), by: 'first-decisions' };
  return {
    galleryId: randomUUID(),
    model: { id: rig.embedder.id, dimensions: rig.embedder.dimensions },
    version: 1,
    people: [...people].map(([name, e]) => ({ name, changed: stamp, embeddings: [e] })),
    tombstones: [],
  };
}

/** Runs `jpegs` through a recognizing pipeline, one frame at a time; each track's first decision. */
async function firstDecisions(
  rig: RecognitionRig,
  jpegs: readonly Buffer[],
  gallery: GalleryContents,
  windowClose: WindowClose,
  match = { threshold: rig.embedder.threshold, margin: manifestMargin(rig.embedder.manifest.recognition) },
): Promise<Map<string, FirstDecision>> {
  const seen = new Map<string, number>();
  const first = new Map<string, FirstDecision>();
  const liveness = new TrackLivenessCheck({ network: rig.antiSpoof });
  const recognizer = new GalleryTrackRecognizer({
    embedder: {
      alignment: rig.embedder.alignment,
      embedCrop: (crop) => (work.embeddings++, rig.embedder.embedCrop(crop)),
    },
    liveness: {
      minFrames: liveness.minFrames,
      capture: (face, pixels) => liveness.capture(face, pixels),
      score: (crop) => (work.livenessScores++, liveness.score(crop)),
      decide: (scores, samples) => liveness.decide(scores, samples),
    },
    gallery,
    ...match,
    embeddingsPerTrack: DEFAULT_EMBEDDINGS_PER_TRACK,
    windowClose,
    onDecision: (d) => {
      if (d.attempt === 1 && d.cause === 'frames' && !first.has(d.trackId))
        first.set(d.trackId, { name: d.identity.person.name, frame: seen.get(d.trackId) ?? 0 });
    },
    onError: (err) => console.error('decision failed:', err),
  });
  const counting = {
    observe: (...[camera, faces, timeMs, pixels]: Parameters<typeof recognizer.observe>) => {
      for (const f of faces) seen.set(f.trackId, (seen.get(f.trackId) ?? 0) + 1);
      work.frames += faces.length;
      return recognizer.observe(camera, faces, timeMs, {
        alignedCrop: (face, alignment) => (work.crops++, pixels.alignedCrop(face, alignment)),
        image: () => (work.fullImages++, pixels.image()),
      });
    },
    takeChanges: (camera: string) => recognizer.takeChanges(camera),
    forget: (camera: string, id: string) => recognizer.forget(camera, id),
  };
  const tracker = new FaceTracker({ camera: 'door', labels: rig.classifier.labels, model: rig.classifier.id });
  const pipeline = new Pipeline({
    camera: 'door',
    slot: new LatestFrameSlot(),
    detector: rig.detector as Detector,
    classifier: () => rig.classifier,
    tracker,
    log: silentLogger(),
    minFacePx: 20,
    recognizer: counting,
    sink: { events: () => undefined, facePresence: () => undefined },
  });
  for (const [seq, data] of jpegs.entries()) {
    const frame: Frame = {
      seq,
      timestampMs: seq * (1000 / 15),
      wallTimeMs: seq * (1000 / 15),
      image: { kind: 'encoded', data, origin: `frame#${seq}` },
    };
    await pipeline.processFrame(frame);
    await recognizer.idle();
  }
  return first;
}

/** The mean embedding of the largest face of every 4th frame of `jpegs` (a clip's person, for enrolment). */
async function clipPerson(rig: RecognitionRig, jpegs: readonly Buffer[]): Promise<Float32Array> {
  const embeddings: Float32Array[] = [];
  for (let i = 0; i < jpegs.length; i += 4) {
    const image = await decodeImage(jpegs[i], `enrol#${i}`);
    const [face] = (await rig.detector.detect(image)).sort((a, b) => b.box.width - a.box.width);
    if (face) embeddings.push(await rig.embedder.embedCrop(rig.embedder.crop(image, face)));
  }
  return meanEmbedding(embeddings);
}

type Tally = Record<string, number>;
const bump = (t: Tally, k: string) => (t[k] = (t[k] ?? 0) + 1);

async function stillJpeg(file: string): Promise<Buffer> {
  return sharp(await readFile(file))
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function facesDev(rig: RecognitionRig, peopleCount: number, strangerCount: number) {
  const val = join(process.env.FACEEDGE_FACES_DEV ?? '/work/shared/data/faces-dev', 'val');
  if (!existsSync(val)) return { skipped: `faces-dev not found at ${val}` };
  const byId = new Map<string, string[]>();
  for (const sex of ['female', 'male'])
    for (const f of readdirSync(join(val, sex)).sort()) {
      const id = f.split('_')[0];
      byId.set(id, [...(byId.get(id) ?? []), join(val, sex, f)]);
    }
  const enrolled = new Map<string, Float32Array>();
  const probes: { file: string; person: string | null }[] = [];
  const tools = { detector: rig.detector, embedder: rig.embedder };
  for (const [id, photos] of byId) {
    if (photos.length < 2 || enrolled.size >= peopleCount) continue;
    const face = await photoFace(photos[0], tools, { purpose: 'enrol' });
    if (!face.usable) continue;
    enrolled.set(`person-${id}`, face.embedding);
    probes.push({ file: photos[1], person: `person-${id}` });
  }
  for (const [id, photos] of byId) {
    if (probes.length >= enrolled.size + strangerCount) break;
    if (!enrolled.has(`person-${id}`)) probes.push({ file: photos[0], person: null });
  }
  const gallery = galleryOf(rig, enrolled);
  const out: Record<string, { enrolled: Tally; strangers: Tally; frames: Tally; work?: Tally }> = {};
  for (const rule of RULES) {
    const r = (out[rule] = { enrolled: {}, strangers: {}, frames: {} } as (typeof out)[string]);
    Object.assign(work, { frames: 0, crops: 0, fullImages: 0, embeddings: 0, livenessScores: 0 });
    for (const probe of probes) {
      // A still shown for 12 frames (0.8 s at 15 fps), as the door test's camera shows it.
      const decisions = await firstDecisions(
        rig,
        new Array<Buffer>(12).fill(await stillJpeg(probe.file)),
        gallery,
        rule,
      );
      const d = [...decisions.values()][0];
      if (!d) {
        bump(probe.person ? r.enrolled : r.strangers, 'no decision');
        continue;
      }
      bump(r.frames, String(d.frame));
      if (probe.person) bump(r.enrolled, d.name === probe.person ? 'right' : d.name === null ? 'unknown' : 'wrong');
      else bump(r.strangers, d.name === null ? 'unknown' : 'named');
    }
    r.work = { ...work };
  }
  return { people: enrolled.size, strangers: probes.length - enrolled.size, ...out };
}

async function headPose(rig: RecognitionRig) {
  const scenes = join('test', 'fixtures', 'scenes');
  const shared = '/work/shared/data/scenes';
  const single = (who: string) => join(shared, `head-pose-face-detection-${who}.gif`);
  if (!existsSync(single('female')) || !existsSync(single('male')))
    return { skipped: `no single-person clips in ${shared}` };
  const refs = new Map<string, Float32Array>();
  for (const who of ['female', 'male'])
    refs.set(who, await clipPerson(rig, await clipJpegs(shared, (f) => f === `head-pose-face-detection-${who}.gif`)));
  const probe = await clipJpegs(scenes, (f) => f.startsWith('head-pose'));
  // Who each track is: the nearest of the two references, from a run that must name someone (no threshold).
  const labels = await firstDecisionsLabelled(rig, probe, refs);
  const out: Record<string, Record<string, Tally>> = {};
  for (const rule of RULES) {
    const r: Record<string, Tally> = (out[rule] = { enrolled: {}, strangers: {}, frames: {} });
    Object.assign(work, { frames: 0, crops: 0, fullImages: 0, embeddings: 0, livenessScores: 0 });
    for (const who of refs.keys()) {
      const decisions = await firstDecisions(
        rig,
        probe,
        galleryOf(rig, new Map([[who, refs.get(who) as Float32Array]])),
        rule,
      );
      for (const [track, d] of decisions) {
        bump(r.frames, String(d.frame));
        if (labels.get(track) === who)
          bump(r.enrolled, d.name === who ? 'right' : d.name === null ? 'unknown' : 'wrong');
        else bump(r.strangers, d.name === null ? 'unknown' : 'named');
      }
    }
    r.work = { ...work };
  }
  return { tracks: labels.size, frames: probe.length, ...out };
}

async function firstDecisionsLabelled(rig: RecognitionRig, probe: readonly Buffer[], refs: Map<string, Float32Array>) {
  const labels = new Map<string, string>();
  const nearest = { threshold: -1, margin: 0 };
  for (const [track, d] of await firstDecisions(rig, probe, galleryOf(rig, refs), 'full-window', nearest))
    if (d.name) labels.set(track, d.name);
  return labels;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  sharp.cache(false);
  sharp.concurrency(1);
  const args = process.argv.slice(2);
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const detector = await FaceDetector.create({ model: 'short' });
  const classifier = await FaceClassifier.create({ modelPath: shippedModelPath() });
  const rig = await recognitionRig(detector, classifier);
  const result = {
    threshold: rig.embedder.threshold,
    margin: manifestMargin(rig.embedder.manifest.recognition),
    head_pose: await headPose(rig),
    faces_dev: await facesDev(rig, Number(flag('--people') ?? 30), Number(flag('--strangers') ?? 30)),
  };
  console.log(JSON.stringify(result, null, 2));
  await Promise.all([rig.embedder.close(), rig.antiSpoof.close(), classifier.close(), detector.close()]);
}
