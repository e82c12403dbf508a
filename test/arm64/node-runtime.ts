/**
 * A way to run the compiled project: which Node binary (the host's, or the arm64 one under QEMU), which
 * `dist/` tree, and a helper that runs one of its scripts to completion with a time limit. Both sides of
 * the arm64 parity test go through this, so they differ only in the CPU that runs them.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface NodeRuntime {
  /** For messages: `x86-64` or `arm64 (qemu cortex-a72)`. */
  readonly label: string;
  /** The program started: the host's node, or qemu-aarch64-static. */
  readonly command: string;
  /** Arguments before the script (for QEMU: `-cpu <model> <arm64 node>`). */
  readonly prefixArgs: readonly string[];
  /** The compiled tree whose scripts run (`<root>/dist`), next to the node_modules it resolves. */
  readonly distDir: string;
  /** The package root it runs from (relative config paths such as `models/…` resolve against it). */
  readonly cwd: string;
}

export interface ScriptResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
}

/**
 * Runs `<distDir>/<script> <args…>` from the runtime's `cwd` until it exits, or kills it after
 * `timeoutMs`. The environment is this process's without `FACEEDGE_*` (they would override the test's
 * config).
 */
export function runScript(
  runtime: NodeRuntime,
  script: string,
  args: readonly string[],
  options: { timeoutMs: number },
): Promise<ScriptResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FACEEDGE_')));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(runtime.command, [...runtime.prefixArgs, join(runtime.distDir, script), ...args], {
      cwd: runtime.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
