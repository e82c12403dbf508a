/**
 * `faceedge train --on-embedding` refuses, before any work, the options of the 64×64 path it does not use,
 * and `--pair-with` without it; the defaults of those options (e.g. `--processes 1`) do not count as given.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerTrainCommand } from '../../src/cli/commands/train.js';
import { isFaceedgeError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'faceedge-train-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error the train command's action throws for these arguments (none: it went on past the checks). */
async function refusal(args: string[]): Promise<unknown> {
  const program = new Command().exitOverride();
  registerTrainCommand(program);
  try {
    await program.parseAsync(['node', 'faceedge', 'train', ...args]);
  } catch (err) {
    return err;
  }
  return null;
}

describe('faceedge train --on-embedding refusals', () => {
  it.each([
    [['--init', 'model.pt'], '--init'],
    [['--processes', '2'], '--processes'],
    [['--processes', '1'], '--processes'],
    [['--engine-arg', '--stem-stride=2'], '--engine-arg'],
    [['--max-int8-drop', '5'], '--max-int8-drop'],
  ])('refuses %j naming %s in one line', async (extra, named) => {
    const err = await refusal([join(dir, 'photos'), '--out', join(dir, 'out'), '--on-embedding', ...extra]);
    expect(isFaceedgeError(err)).toBe(true);
    const e = err as Error & { code: string };
    expect(e.code).toBe('USAGE');
    expect(e.message).toBe(`--on-embedding does not use ${named}`);
  });

  it('names every unused option at once', async () => {
    const err = await refusal([dir, '--out', join(dir, 'out'), '--on-embedding', '--init', 'a.pt', '--processes', '4']);
    expect((err as Error).message).toBe('--on-embedding does not use --init, --processes');
  });

  it('refuses --pair-with without --on-embedding', async () => {
    const err = await refusal([dir, '--out', join(dir, 'out'), '--pair-with', 'models/age/manifest.json']);
    expect((err as Error).message).toMatch(/--pair-with needs --on-embedding/);
  });

  it('refuses a --pair-with that is not a model manifest', async () => {
    const err = await refusal([dir, '--out', join(dir, 'out'), '--on-embedding', '--pair-with', join(dir, 'x.json')]);
    expect(isFaceedgeError(err)).toBe(true);
    expect((err as Error).message).toMatch(/--pair-with .*x\.json: not a model package's manifest\.json/);
  });

  it('takes the defaults of the unused options as not given: it goes on to check the input folders', async () => {
    const err = await refusal([join(dir, 'absent'), '--out', join(dir, 'out'), '--on-embedding']);
    expect((err as Error).message).toMatch(/absent: no such folder/);
  });
});
