/** The Python that runs the training engine in tests: the first of Debian's and PATH's that imports torch. */
import { spawnSync } from 'node:child_process';

/** `/usr/bin/python3` or `python3`, whichever imports torch first; null when neither does. */
export function torchPython(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(python, ['-c', 'import torch'], { timeout: 60_000 }).status === 0) return python;
  }
  return null;
}

/** Why an engine test skips without torch. */
export const NO_TORCH = 'no Python with torch (apt-get install python3-torch)';
