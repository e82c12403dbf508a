/**
 * `faceedge model push <dir> <host>` over SSH with ssh/scp stand-ins on PATH (real processes that
 * run the "remote" side on this machine): the board-side `faceedge model install` does the checks,
 * and its typed refusal comes back with the same code.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { ModelStore } from '../../src/model-push/model-store.js';
import { pushModelOverSsh } from '../../src/model-push/ssh-push.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  readManifest,
  signPackage,
} from '../helpers/model-package-fixture.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const work = mkdtempSync(join(tmpdir(), 'faceedge-push-ssh-'));
const log = join(work, 'ssh.log');
const board = join(work, 'board-models');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const PATH_BEFORE = process.env.PATH;

/** The board's `faceedge`: the CLI from this checkout, trusting the test key as a board would its configured one. */
function boardCommand(): string {
  const pub = join(work, 'board.pub.pem');
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  const loader = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const path = join(work, 'faceedge');
  writeFileSync(
    path,
    `#!/bin/sh\nexec '${process.execPath}' --import '${loader}' '${join(REPO_ROOT, 'src/cli/main.ts')}' "$@" --public-key '${pub}'\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

const stagingLeftovers = () => readdirSync('/tmp').filter((f) => f.startsWith('faceedge-push.'));

beforeAll(() => {
  // The stand-ins are found on PATH exactly as the real OpenSSH client would be.
  process.env.PATH = `${join(REPO_ROOT, 'test/stand-ins')}:${PATH_BEFORE}`;
  process.env.FACEEDGE_STANDIN_SSH_HOSTS = 'cam1.local';
  process.env.FACEEDGE_STANDIN_LOG = log;
});
afterAll(() => {
  process.env.PATH = PATH_BEFORE;
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!SOURCE)(`model push over SSH (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  let remote: string;
  beforeAll(() => {
    remote = boardCommand();
  });

  it('copies the package with scp, installs it on the board, and cleans the staging folder', async () => {
    const leftovers = stagingLeftovers();
    const pkg = copyModelPackage(SOURCE!, join(work, 'good'), 'ssh-good');
    signPackage(pkg, privateKey);
    const { report } = await pushModelOverSsh({
      dir: pkg,
      host: 'pi@cam1.local',
      remoteCommand: remote,
      remoteModelsDir: board,
      sshOptions: ['Port=2222'],
    });
    expect(report).toMatchObject({ status: 'ok', model: { id: 'ssh-good' }, unchanged: false });
    expect((await new ModelStore(board).current())?.manifest.id).toBe('ssh-good');
    expect(stagingLeftovers()).toEqual(leftovers);
    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(calls.map((c) => c[0])).toEqual(['ssh', 'scp', 'ssh', 'ssh']);
    // Every call is non-interactive and carries the user's -o options; scp sends manifest, signature and both models.
    for (const c of calls) expect(c.join(' ')).toMatch(/-o Port=2222 .*-o BatchMode=yes/);
    expect(
      calls[1]
        .filter((a) => a.startsWith(pkg))
        .map((a) => a.slice(pkg.length + 1))
        .sort(),
    ).toEqual([...Object.values(readManifest(pkg).files).map((f) => f.path), 'manifest.json', 'manifest.sig'].sort());
  });

  it("brings the board's typed refusal back (a package signed by an untrusted key); the board keeps its model", async () => {
    const leftovers = stagingLeftovers();
    const pkg = copyModelPackage(SOURCE!, join(work, 'stranger'), 'ssh-stranger');
    signPackage(pkg, stranger.privateKey);
    const err = await pushModelOverSsh({
      dir: pkg,
      host: 'cam1.local',
      remoteCommand: remote,
      remoteModelsDir: board,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(err, 'MODEL_SIGNATURE_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /^cam1\.local refused the model: the package is signed by key [0-9a-f]+, which this board does not trust/,
    );
    expect((await new ModelStore(board).current())?.manifest.id).toBe('ssh-good');
    expect(stagingLeftovers()).toEqual(leftovers);
  });

  it('an unreachable host is a transfer error', async () => {
    const pkg = copyModelPackage(SOURCE!, join(work, 'nohost'), 'ssh-nohost');
    signPackage(pkg, privateKey);
    const err = await pushModelOverSsh({ dir: pkg, host: 'nowhere.local', remoteCommand: remote }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(err, 'MODEL_TRANSFER_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/Could not resolve hostname nowhere\.local/);
  });

  it('faceedge model push <dir> <host> (CLI) refuses a corrupted package before connecting, then pushes a good one', async () => {
    mkdirSync(join(work, 'cli'), { recursive: true });
    rmSync(log, { force: true });
    const bad = copyModelPackage(SOURCE!, join(work, 'cli/bad'), 'ssh-cli');
    signPackage(bad, privateKey);
    writeFileSync(join(bad, readManifest(bad).files.int8.path), 'not a model');
    const refused = await runCli([
      'model',
      'push',
      bad,
      'cam1.local',
      '--remote-command',
      remote,
      '--remote-models-dir',
      board,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/bytes, the manifest says/);
    expect(() => readFileSync(log)).toThrow(); // never reached ssh

    const good = copyModelPackage(SOURCE!, join(work, 'cli/good'), 'ssh-cli');
    signPackage(good, privateKey);
    const pushed = await runCli([
      'model',
      'push',
      good,
      'cam1.local',
      '--remote-command',
      remote,
      '--remote-models-dir',
      board,
    ]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/^cam1\.local: installed ssh-cli-[0-9a-f]{12}\n$/);
  });
});
