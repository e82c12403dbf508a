/**
 * Looks a program up on a PATH string the way a shell would, so a source can pick between alternatives
 * (rpicam-vid or the older libcamera-vid) before spawning anything.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * The full path of the first executable file called `name` in the directories of `pathEnv`, or null.
 * A `name` containing a slash is checked as is.
 * @param pathEnv a PATH value (`dir1:dir2`); empty entries are skipped.
 */
export async function findExecutable(name: string, pathEnv: string | undefined): Promise<string | null> {
  const candidates = name.includes('/')
    ? [name]
    : (pathEnv ?? '')
        .split(delimiter)
        .filter((dir) => dir && isAbsolute(dir))
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
