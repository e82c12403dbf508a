/**
 * Measures the planar-motion evidence (src/liveness/planar-motion.ts) on keypoint dumps made by
 * detect-keypoints.ts: the frames of each folder are one clip, faces are linked into tracks by box overlap,
 * and every track is judged over sliding windows the way the lock would judge a face in front of the door
 * (the samples of `--window-ms`, at least `--spacing-ms` apart, the window moved by half its length;
 * `--window-ms 0` judges each whole track once, every sample it has).
 *
 *   tsx scripts/liveness/temporal-eval.ts --frame-ms 80 [--window-ms 2000] [--spacing-ms 150] dump.jsonl… > windows.jsonl
 *
 * One JSON line per window: {clip, track, start_ms, verdict, parallax, turn, samples}.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DetectedFace } from '../../src/vision/face.js';
import { planarMotionEvidence, type KeypointSample } from '../../src/liveness/planar-motion.js';

interface Dump {
  file: string;
  faces?: DetectedFace[];
}

function iou(a: DetectedFace['box'], b: DetectedFace['box']): number {
  const x = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const y = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const i = x * y;
  return i / (a.width * a.height + b.width * b.height - i);
}

/** Greedy IoU linking of one clip's detections into tracks (a track ends after 3 frames unseen). */
function tracks(frames: Dump[], frameMs: number, minFacePx: number): KeypointSample[][] {
  const open: { samples: KeypointSample[]; last: number }[] = [];
  const done: KeypointSample[][] = [];
  frames.forEach((frame, index) => {
    const faces = (frame.faces ?? []).filter((f) => f.box.width >= minFacePx);
    const taken = new Set<number>();
    for (const face of faces) {
      let best = -1;
      let bestIou = 0.3;
      open.forEach((t, k) => {
        const overlap = iou(t.samples[t.samples.length - 1].box, face.box);
        if (!taken.has(k) && t.last >= index - 3 && overlap > bestIou) {
          best = k;
          bestIou = overlap;
        }
      });
      const sample = { timeMs: index * frameMs, box: face.box, keypoints: face.keypoints };
      if (best >= 0) {
        open[best].samples.push(sample);
        open[best].last = index;
        taken.add(best);
      } else {
        open.push({ samples: [sample], last: index });
        taken.add(open.length - 1);
      }
    }
  });
  done.push(...open.map((t) => t.samples));
  return done;
}

async function main(argv: string[]): Promise<void> {
  const opt = { frameMs: 80, windowMs: 2000, spacingMs: 150, minFacePx: 40 };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--frame-ms') opt.frameMs = Number(argv[++i]);
    else if (a === '--window-ms') opt.windowMs = Number(argv[++i]);
    else if (a === '--spacing-ms') opt.spacingMs = Number(argv[++i]);
    else if (a === '--min-face-px') opt.minFacePx = Number(argv[++i]);
    else files.push(a);
  }
  const clips = new Map<string, Dump[]>();
  for (const file of files) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const dump = JSON.parse(line) as Dump;
      const clip = dirname(dump.file);
      clips.set(clip, [...(clips.get(clip) ?? []), dump]);
    }
  }
  for (const [clip, frames] of clips) {
    frames.sort((a, b) => a.file.localeCompare(b.file));
    tracks(frames, opt.frameMs, opt.minFacePx).forEach((track, t) => {
      const end = track[track.length - 1].timeMs;
      if (opt.windowMs <= 0) {
        const r = planarMotionEvidence(track, { minSpacingMs: opt.spacingMs, maxSamples: Number.MAX_SAFE_INTEGER });
        process.stdout.write(JSON.stringify({ clip, track: t, start_ms: track[0].timeMs, ...r }) + '\n');
        return;
      }
      for (let start = track[0].timeMs; start + opt.windowMs <= end + opt.frameMs; start += opt.windowMs / 2) {
        const window = track.filter((s) => s.timeMs >= start && s.timeMs < start + opt.windowMs);
        const r = planarMotionEvidence(window, { minSpacingMs: opt.spacingMs });
        process.stdout.write(JSON.stringify({ clip, track: t, start_ms: start, ...r }) + '\n');
      }
    });
  }
}

await main(process.argv.slice(2));
