/** Starts test/helpers/mqtt-output-child.ts and waits for its READY line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./mqtt-output-child.ts', import.meta.url));

export interface OutputChild {
  readonly child: ChildProcess;
  /** Queue depth the child reported once ready. */
  readonly depth: number;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export async function spawnOutputChild(args: Record<string, unknown>, timeoutMs = 30_000): Promise<OutputChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const depth = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready after ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    depth,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
