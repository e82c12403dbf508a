/**
 * `faceedge config check` on lock configs, as an installer runs it: a person rule that lets photos in passes
 * with a loud WARNING on stderr; one on a board without recognition is refused (exit 2) with its path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFaceedge } from '../helpers/daemon-process.js';

const BOARD = {
  cameras: [{ name: 'door', source: { type: 'gif', path: 'door.gif' } }],
  gpio: { outputs: { door_lock: { line: 17, lock: true } } },
  recognition: { enabled: true, key_file: '/etc/faceedge/gallery.key' },
};
const rule = (when: object) => ({
  id: 'front',
  when: { camera: 'door', person: 'any-known', ...when },
  then: { gpio: 'door_lock', pulse_ms: 3000 },
});

function configFile(tree: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'faceedge-lock-check-')), 'config.json');
  writeFileSync(file, JSON.stringify(tree));
  return file;
}

describe('faceedge config check on person rules', () => {
  it('passes a rule without liveness, warning loudly', async () => {
    const result = await runFaceedge([
      'config',
      'check',
      configFile({ ...BOARD, rules: [rule({ require_live: false })] }),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'WARNING: rules.0.when.require_live: rule front: require_live is false: a printed photo or a phone screen showing an enrolled person opens this lock',
    );
    const strict = await runFaceedge(['config', 'check', configFile({ ...BOARD, rules: [rule({})] })]);
    expect(strict.code, strict.stderr).toBe(0);
    expect(strict.stderr).not.toContain('WARNING');
  }, 60_000);

  it('refuses a person rule on a board without recognition', async () => {
    const tree = { ...BOARD, recognition: { enabled: false }, rules: [rule({})] };
    const result = await runFaceedge(['config', 'check', configFile(tree)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('rules.0.when.person: rule front: a person rule needs recognition.enabled: true');
  }, 60_000);
});
