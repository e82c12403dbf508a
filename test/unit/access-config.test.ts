/**
 * The person rules' config: `gpio`/`output` as one definition, the keys that need `person`, a pulse only, the
 * second factor's input, recognition required, a lock output that is safe off, the `access:` defaults, and the
 * loud warning of `config check` for `require_live: false`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/check-config.js';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

function problems(tree: unknown): string[] {
  try {
    parseConfig(tree, { hostname: 'pi' });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const DOOR = { name: 'door', source: { type: 'gif', path: 'door.gif' } };
const GPIO = { outputs: { lock: { line: 17, lock: true } }, inputs: { button: { line: 4 } } };
const RECOGNITION = { enabled: true, key_file: '/etc/faceedge/gallery.key' };
const board = (rules: unknown[], extra: object = {}) => ({
  cameras: [DOOR],
  gpio: GPIO,
  recognition: RECOGNITION,
  rules,
  ...extra,
});
const LOCK = {
  id: 'front',
  when: { camera: 'door', person: ['alice', 'bob'] },
  then: { gpio: 'lock', pulse_ms: 3000 },
};

describe('person rules in the config', () => {
  it('reads then.gpio as then.output, with the access defaults', () => {
    const cfg = parseConfig(board([LOCK]), { hostname: 'pi' });
    expect(cfg.rules[0].then).toEqual({ output: 'lock', pulse_ms: 3000 });
    expect(cfg.rules[0].when).toMatchObject({ person: ['alice', 'bob'] });
    expect(cfg.access).toEqual({
      lockout: { attempts: 5, window_s: 60, duration_s: 300 },
      log: { max_bytes: 1_048_576, files: 5 },
    });
  });

  it('refuses output and gpio together, state instead of a pulse, person keys without person, end events', () => {
    const issues = (rule: object) => {
      const r = rulesSchema.safeParse([rule]);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ ...LOCK, then: { gpio: 'lock', output: 'lock', pulse_ms: 1 } })).toEqual([
      '0.then: give output or gpio (two spellings of one key), not both',
    ]);
    expect(issues({ ...LOCK, then: { gpio: 'lock', state: 'on' } })).toEqual([
      '0.then: a person rule opens a lock with pulse_ms (a pulse always ends locked), not state',
    ]);
    expect(
      issues({ when: { require_live: false, min_similarity: 0.5 }, then: { output: 'lock', pulse_ms: 1 } }),
    ).toEqual(['0.when.min_similarity: min_similarity needs person', '0.when.require_live: require_live needs person']);
    expect(issues({ ...LOCK, when: { ...LOCK.when, events: ['end'] } })).toEqual([
      "0.when.events: a person rule cannot fire on a track's end",
    ]);
  });

  it('needs recognition.enabled for a person rule', () => {
    expect(problems(board([LOCK], { recognition: { enabled: false } }))).toEqual([
      'rules.0.when.person: rule front: a person rule needs recognition.enabled: true (the board recognizes nobody)',
    ]);
  });

  it('refuses a lock output that is on when safe, and a second factor naming no input', () => {
    const gpio = { outputs: { lock: { line: 17, safe: 'on' } }, inputs: {} };
    const rule = { ...LOCK, when: { ...LOCK.when, second_factor: { input: 'keypad' } } };
    expect(problems(board([rule], { gpio }))).toEqual([
      'rules.0.when.second_factor.input: rule front: unknown GPIO input "keypad" (known: none configured)',
      'rules.0.then.output: rule front: the lock output "lock" has safe: on, so it would stand open at start, stop and crash; a lock is locked when off (wire a power-to-lock maglock with active_low: true)',
    ]);
  });

  it('bounds the lockout and the access log', () => {
    expect(problems(board([LOCK], { access: { lockout: { attempts: 0 }, log: { files: 0, max_bytes: 10 } } }))).toEqual(
      [
        'access.lockout.attempts: Too small: expected number to be >=1',
        'access.log.max_bytes: Too small: expected number to be >=4096',
        'access.log.files: Too small: expected number to be >=1',
      ],
    );
  });
});

describe('faceedge config check', () => {
  const check = (rules: unknown[]) => {
    const file = join(mkdtempSync(join(tmpdir(), 'faceedge-access-config-')), 'config.json');
    writeFileSync(file, JSON.stringify(board(rules)));
    return checkConfig(file, {});
  };

  it('warns about a person rule that does not require a live face, and only about that', () => {
    const loose = check([LOCK, { ...LOCK, id: 'side', when: { ...LOCK.when, require_live: false } }]);
    expect(loose.ok).toBe(true);
    expect(loose.warnings).toEqual([
      'rules.1.when.require_live: rule side: require_live is false: a printed photo or a phone screen showing an enrolled person opens this lock',
    ]);
    expect(check([LOCK]).warnings).toEqual([]);
  });

  it('warns about a person rule for any camera, and a lock opened by a rule that does not know who', () => {
    const anyCamera = { ...LOCK, when: { person: 'alice' } };
    const byClass = { id: 'old', when: { class: 'female' }, then: { output: 'lock', pulse_ms: 3000 } };
    const relock = { id: 'relock', when: { camera: 'door' }, then: { output: 'lock', state: 'off' } };
    expect(check([anyCamera, byClass, relock]).warnings).toEqual([
      'rules.0.when.camera: rule front: no camera named: a face seen at any camera of the board opens this lock',
      'rules.1.then.output: rule old: opens the lock "lock" without knowing who is there (no when.person): anyone who trips it opens the door',
    ]);
  });
});
