/**
 * What the teacher scripts share: `@vladmandic/human` 3.3.6 loaded on tfjs WASM from this folder's
 * node_modules (`npm install` here), a shard argument (`--shard i/n`), and an image reader that hands Human
 * a tensor. label.ts (soft gender labels) and age.ts (the age anchor of `faceedge eval --anchor`) use it.
 *
 * A development tool: its dependencies live in train/teacher/package.json, not in the runtime, not in CI, and
 * nothing of the teacher ships in models/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';

const here = path.dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(import.meta.url);
const humanDir = path.join(here, 'node_modules', '@vladmandic', 'human');
const wasmDir = path.join(here, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');

/** The face fields the teacher scripts read of Human's result (its `FaceResult`). */
export interface TeacherFace {
  readonly gender?: string;
  readonly genderScore?: number;
  /** Estimated age, years (a real number). */
  readonly age?: number;
}

/** Human, loaded and warmed up, with the image → faces step the scripts need. */
export interface Teacher {
  /** The faces Human finds in the image file, most prominent first (`maxDetected: 1`: at most one). */
  faces(file: string): Promise<TeacherFace[]>;
}

/** `--shard i/n` → { shard: i, shards: n }; throws on anything else. */
export function parseShard(text: string | undefined): { shard: number; shards: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!match || Number(match[1]) >= Number(match[2])) throw new Error('--shard wants i/n with i < n, e.g. 0/2');
  return { shard: Number(match[1]), shards: Number(match[2]) };
}

/** Node's fetch has no file:// scheme; tfjs loads models and its .wasm through fetch. */
function allowFileFetch(): void {
  const networkFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return networkFetch(input, init);
    const type = url.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
    return new Response(readFileSync(new URL(url)), { headers: { 'content-type': type } });
  };
}

/** Loads Human with face detection, mesh and the `faceres` description model (gender and age). */
export async function loadTeacher(): Promise<Teacher> {
  allowFileFetch();
  const { Human } = requireHere(path.join(humanDir, 'dist', 'human.node-wasm.js'));
  const tf = requireHere(path.join(here, 'node_modules', '@tensorflow', 'tfjs-core'));
  const human = new Human({
    backend: 'wasm',
    debug: false,
    modelBasePath: pathToFileURL(path.join(humanDir, 'models')).href + '/',
    wasmPath: pathToFileURL(wasmDir).href + '/',
    face: {
      enabled: true,
      detector: { rotation: true, maxDetected: 1 },
      mesh: { enabled: true }, // faceres crops from the mesh; without it the teacher is less accurate
      iris: { enabled: false },
      // minConfidence 0: always report a gender so every detected face gets a probability
      description: { enabled: true, minConfidence: 0 },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
    filter: { enabled: false },
  });
  await human.load();
  await human.warmup();
  return {
    async faces(file: string): Promise<TeacherFace[]> {
      const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const image = tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
      try {
        return (await human.detect(image)).face as TeacherFace[];
      } finally {
        image.dispose();
      }
    },
  };
}
