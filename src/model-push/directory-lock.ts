/**
 * A cross-process lock as a directory (mkdir is atomic) holding the owner's PID. A lock left by a
 * process that died (kill -9, power loss) is taken over instead of blocking installs forever.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { processAlive } from '../service/process-alive.js';

async function ownerOf(lockDir: string): Promise<number | null> {
  const text = await readFile(join(lockDir, 'pid'), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Runs `fn` holding `lockDir`; waits up to `timeoutMs` (default 60 s) for another holder.
 * In-process callers are serialised too, since the PID is the same: a second caller waits.
 */
export async function withDirectoryLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lockDir, { recursive: false });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await mkdir(join(lockDir, '..'), { recursive: true });
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await ownerOf(lockDir);
      // No pid file yet: being created right now — unless that was long ago (its creator died).
      const orphan =
        owner === null && Date.now() - ((await stat(lockDir).catch(() => null))?.mtimeMs ?? Date.now()) > 10_000;
      if (orphan || (owner !== null && !processAlive(owner))) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new FaceedgeError(
          'MODEL_TRANSFER_FAILED',
          `another model install holds ${lockDir} (pid ${owner ?? '?'})`,
          { hint: 'wait for it to finish and retry' },
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    await writeFile(join(lockDir, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
