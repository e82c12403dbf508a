/**
 * `faceedge model push <dir> <host>`: copies the package to a fresh staging folder on the board with
 * scp and runs `faceedge model install --json` there over ssh, so the board does every check itself
 * (sha256, signature against its own key, self-test, atomic swap). The board's typed error comes back
 * as the same code here. Uses the system's OpenSSH (keys, agent, ~/.ssh/config all apply).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError, type FaceedgeErrorCode } from '../errors.js';
import { MANIFEST_FILE, SIGNATURE_FILE, readModelPackage, verifyPackageFiles } from './model-package.js';

export interface SshPushOptions {
  readonly dir: string;
  /** `[user@]host` as ssh understands it (aliases from ~/.ssh/config work). */
  readonly host: string;
  /** Default `ssh` / `scp` from PATH. */
  readonly ssh?: string;
  readonly scp?: string;
  /** `-o` options for both, e.g. `Port=2222`, `IdentityFile=~/.ssh/board`. */
  readonly sshOptions?: readonly string[];
  /** The faceedge command on the board, e.g. `sudo -u faceedge faceedge`. Default `faceedge`. */
  readonly remoteCommand?: string;
  /** `--models-dir` on the board; default: the board's own default. */
  readonly remoteModelsDir?: string;
  /** Whole push, ms. Default 300 000. */
  readonly timeoutMs?: number;
}

export interface SshPushResult {
  /** The board's `model install --json` report. */
  readonly report: Record<string, unknown>;
}

/** POSIX shell single-quoting for the remote command line. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(
        new FaceedgeError('MODEL_TRANSFER_FAILED', `cannot run ${cmd}: ${cause.message}`, {
          hint: 'install the OpenSSH client (ssh, scp)',
          cause,
        }),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function pushModelOverSsh(options: SshPushOptions): Promise<SshPushResult> {
  const pkg = await readModelPackage(options.dir);
  await verifyPackageFiles(pkg);
  const hasSignature = await readFile(join(options.dir, SIGNATURE_FILE)).then(
    () => true,
    () => false,
  );
  const files = [MANIFEST_FILE, ...(hasSignature ? [SIGNATURE_FILE] : []), ...pkg.files.map((f) => f.name)].map((f) =>
    join(options.dir, f),
  );
  const ssh = options.ssh ?? 'ssh';
  const scp = options.scp ?? 'scp';
  const opts = (options.sshOptions ?? []).flatMap((o) => ['-o', o]);
  const timeout = options.timeoutMs ?? 300_000;
  const fail = (what: string, r: Run) =>
    new FaceedgeError(
      'MODEL_TRANSFER_FAILED',
      `${what} on ${options.host} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      {
        hint: 'check `ssh <host>` works without a password prompt (BatchMode)',
      },
    );

  const made = await run(
    ssh,
    [...opts, '-o', 'BatchMode=yes', options.host, 'mktemp -d /tmp/faceedge-push.XXXXXX'],
    timeout,
  );
  const staging = made.stdout.trim();
  if (made.code !== 0 || !/^\/[A-Za-z0-9._/-]+$/.test(staging)) throw fail('mktemp', made);

  const install = [
    options.remoteCommand ?? 'faceedge',
    'model',
    'install',
    shellQuote(staging),
    '--json',
    ...(options.remoteModelsDir ? ['--models-dir', shellQuote(options.remoteModelsDir)] : []),
  ].join(' ');
  try {
    const copied = await run(
      scp,
      [...opts, '-o', 'BatchMode=yes', '-q', ...files, `${options.host}:${staging}/`],
      timeout,
    );
    if (copied.code !== 0) throw fail('scp', copied);
    const installed = await run(ssh, [...opts, '-o', 'BatchMode=yes', options.host, install], timeout);
    // The last stdout line is the board's JSON report, success or typed refusal.
    const last = installed.stdout.trim().split('\n').at(-1) ?? '';
    let report: { status?: string; error?: { code: string; message: string; hint?: string } } & Record<string, unknown>;
    try {
      report = JSON.parse(last);
    } catch {
      throw fail('faceedge model install', installed);
    }
    if (report.status !== 'ok') {
      const e = report.error ?? { code: 'MODEL_TRANSFER_FAILED', message: 'install failed' };
      throw new FaceedgeError(e.code as FaceedgeErrorCode, `${options.host} refused the model: ${e.message}`, {
        hint: e.hint ?? 'the previous model keeps serving',
      });
    }
    return { report };
  } finally {
    await run(ssh, [...opts, '-o', 'BatchMode=yes', options.host, `rm -rf ${shellQuote(staging)}`], 30_000).catch(
      () => undefined,
    );
  }
}
