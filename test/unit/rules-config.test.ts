/** The rules: config section and its references to outputs, inputs and cameras. */
import { describe, expect, it } from 'vitest';
import { ruleReferenceIssues } from '../../src/rules/rule-references.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

function issues(input: unknown): string[] {
  const result = rulesSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('rules config', () => {
  it('fills defaults', () => {
    const [rule] = rulesSchema.parse([{ when: { camera: 'door' }, then: { output: 'relay', pulse_ms: 3000 } }]);
    expect(rule).toEqual({
      when: { camera: 'door', class: 'any', min_score: 0, min_frames: 1, events: ['new', 'update'] },
      then: { output: 'relay', pulse_ms: 3000 },
      active: true,
      cooldown_ms: 0,
      once_per_track: true,
      hold_ms: 0,
    });
  });

  it.each([
    [
      [{ then: { output: 'relay', pulse_ms: 1 } }],
      '0: a rule needs exactly one of "when" (track events) or "when_input" (a GPIO input)',
    ],
    [
      [{ when: {}, when_input: 'pir', then: { camera: 'door' } }],
      '0: a rule needs exactly one of "when" (track events) or "when_input" (a GPIO input)',
    ],
    [[{ when: {}, then: { output: 'relay' } }], '0.then: an event rule needs pulse_ms or state for its output'],
    [[{ when: {}, then: { camera: 'door' } }], '0.then.camera: only input rules can run a camera'],
    [
      [{ when_input: 'pir', then: { output: 'a', pulse_ms: 5, state: 'on' } }],
      '0.then: give pulse_ms or state, not both',
    ],
    [
      [{ when_input: 'pir', then: { output: 'a', camera: 'door' } }],
      '0.then: a rule drives an output or a camera, not both',
    ],
    [[{ when_input: 'pir', then: {} }], '0.then: then needs an output or a camera'],
    [
      [
        { id: 'x', when_input: 'pir', then: { output: 'a' } },
        { id: 'x', when_input: 'pir', then: { output: 'b' } },
      ],
      '1.id: duplicate rule id "x" (also rules.0)',
    ],
  ])('refuses %j', (input, message) => {
    expect(issues(input)).toContain(message);
  });

  it('refuses a score outside 0..1 and unknown keys', () => {
    expect(issues([{ when: { min_score: 1.5 }, then: { output: 'a', pulse_ms: 1 } }])[0]).toMatch(
      /^0\.when\.min_score/,
    );
    expect(issues([{ when: {}, then: { output: 'a', pulse_ms: 1 }, cooldown: 5 }])[0]).toMatch(/cooldown/);
  });

  it('reports references to outputs, inputs and cameras that do not exist', () => {
    const rules = rulesSchema.parse([
      { id: 'unlock', when: { camera: ['door', 'garage'] }, then: { output: 'relay', pulse_ms: 3000 } },
      { when_input: 'pir', then: { camera: 'porch' } },
    ]);
    expect(ruleReferenceIssues(rules, { outputs: ['relay'], inputs: [], cameras: ['door'] })).toEqual([
      { path: [0, 'when', 'camera'], message: 'rule unlock: unknown camera "garage" (known: door)' },
      { path: [1, 'then', 'camera'], message: 'rule rule-2: unknown camera "porch" (known: door)' },
      { path: [1, 'when_input'], message: 'rule rule-2: unknown GPIO input "pir" (known: none configured)' },
    ]);
  });
});
