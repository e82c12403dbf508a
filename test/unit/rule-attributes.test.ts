/**
 * Rules on any model's label (`when.attributes`, issue 24 §3): the schema's two spellings, the engine's
 * matching on synthetic snapshots carrying `attributes`, the config check (a model that is not configured,
 * a rule on attributes that would drive a lock, a person rule asking for attributes) and the start check
 * against the models' manifest labels.
 */
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';
import { FaceedgeError } from '../../src/errors.js';
import type { AttributeValue, TrackEvent } from '../../src/pipeline/track-event.js';
import { assertRuleAttributes, ruleAttributeIssues } from '../../src/rules/rule-attributes.js';
import { RulesEngine } from '../../src/rules/rules-engine.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

function event(attributes: Record<string, AttributeValue> | undefined, id = 'door-1'): TrackEvent {
  const after = {
    id,
    camera: 'door',
    box: { x: 10, y: 10, width: 64, height: 64 },
    face_area: 4096,
    class: 'female',
    score: 0.95,
    top_score: 0.97,
    frames: 5,
    start_time: 1_700_000_000,
    end_time: null,
    model: 'faceedge-gender',
    ...(attributes ? { attributes } : {}),
  };
  return { type: 'new', before: null, after };
}

const TEEN = {
  id: 'teen',
  when: { camera: 'door', attributes: { age: ['13-19'] } },
  then: { output: 'chime', pulse_ms: 500 },
};

function schemaProblems(rules: unknown): string[] {
  const result = rulesSchema.safeParse(rules);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('when.attributes in the schema', () => {
  it('reads a label, a list, and a label with a least score as one shape', () => {
    const rules = rulesSchema.parse([
      { when: { attributes: { age: '13-19' } }, then: { output: 'chime', pulse_ms: 500 } },
      { when: { attributes: { age: ['13-19', '20-29'], gender: 'female' } }, then: { output: 'chime', pulse_ms: 500 } },
      { when: { attributes: { age: { label: '60+', min_score: 0.7 } } }, then: { output: 'chime', pulse_ms: 500 } },
    ]);
    expect(rules.map((r) => r.when?.attributes)).toEqual([
      { age: { label: ['13-19'], min_score: 0 } },
      { age: { label: ['13-19', '20-29'], min_score: 0 }, gender: { label: ['female'], min_score: 0 } },
      { age: { label: ['60+'], min_score: 0.7 } },
    ]);
  });

  it.each([
    [{ attributes: {} }, '0.when.attributes: attributes needs at least one model'],
    [{ attributes: { age: [] } }, '0.when.attributes.age'],
    [{ attributes: { age: { label: '13-19', min_score: 1.5 } } }, '0.when.attributes.age'],
    [{ attributes: { age: { label: '13-19', least: 0.5 } } }, '0.when.attributes.age'],
    [{ attributes: { 'a/b': '13-19' } }, '0.when.attributes'],
  ])('refuses %j', (when, problem) => {
    const problems = schemaProblems([{ when, then: { output: 'chime', pulse_ms: 500 } }]);
    expect(
      problems.some((p) => p.startsWith(problem)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('refuses attributes on a person rule: an age band or a gender never gates access', () => {
    const rule = {
      when: { camera: 'door', person: 'alice', attributes: { age: ['20-29'] } },
      then: { output: 'lock', pulse_ms: 3000 },
    };
    expect(schemaProblems([rule])).toEqual([
      '0.when.attributes: a person rule cannot ask for attributes: an age band or a gender must never gate access',
    ]);
  });
});

describe('matching attributes', () => {
  const fires = (rule: unknown, attributes: Record<string, AttributeValue> | undefined) =>
    new RulesEngine(rulesSchema.parse([rule])).onEvent(event(attributes), 1000).length === 1;

  it('fires on a listed label of the named model, and says so in the reason', () => {
    const actions = new RulesEngine(rulesSchema.parse([TEEN])).onEvent(
      event({ gender: { label: 'female', score: 0.95 }, age: { label: '13-19', score: 0.81 } }),
      1000,
    );
    expect(actions).toEqual([
      {
        kind: 'pulse',
        output: 'chime',
        ms: 500,
        rule: 'teen',
        reason: 'door: track door-1 female 0.95, 5 frames, age 13-19 0.81 (new)',
        at: 1000,
      },
    ]);
  });

  it.each([
    ['another label', { age: { label: '20-29', score: 0.9 } }],
    ['the unsure label', { age: { label: 'unknown', score: 0.3 } }],
    ['no decision of that model yet', { gender: { label: 'female', score: 0.95 } }],
    ['an event without attributes', undefined],
  ])('does not fire on %s', (_what, attributes) => {
    expect(fires(TEEN, attributes)).toBe(false);
  });

  it('needs the least score of that model, not of the first one', () => {
    const rule = { ...TEEN, when: { attributes: { age: { label: '13-19', min_score: 0.8 } } } };
    expect(fires(rule, { age: { label: '13-19', score: 0.79 } })).toBe(false);
    expect(fires(rule, { age: { label: '13-19', score: 0.8 } })).toBe(true);
  });

  it('needs every named model to match, and the class condition beside them', () => {
    const rule = { ...TEEN, when: { class: 'female', attributes: { age: ['13-19'], mood: ['happy', 'calm'] } } };
    expect(fires(rule, { age: { label: '13-19', score: 0.8 }, mood: { label: 'calm', score: 0.6 } })).toBe(true);
    expect(fires(rule, { age: { label: '13-19', score: 0.8 }, mood: { label: 'sad', score: 0.6 } })).toBe(false);
    expect(fires(rule, { age: { label: '13-19', score: 0.8 } })).toBe(false);
    const male = { ...rule, when: { ...rule.when, class: 'male' } };
    expect(fires(male, { age: { label: '13-19', score: 0.8 }, mood: { label: 'calm', score: 0.6 } })).toBe(false);
  });
});

describe('the config check of rules on attributes', () => {
  const DOOR = { name: 'door', source: { type: 'gif', path: 'door.gif' } };
  const GPIO = { outputs: { chime: { line: 5 }, lock: { line: 17, lock: true } }, inputs: {} };
  const AGE = [
    { name: 'gender', model: 'gender.tflite' },
    { name: 'age', model: 'age.tflite' },
  ];
  const problems = (rules: unknown[], extra: object = { classifiers: AGE }): string[] => {
    try {
      parseConfig({ cameras: [DOOR], gpio: GPIO, rules, ...extra }, { hostname: 'pi' });
    } catch (err) {
      if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
    return [];
  };

  it('accepts a rule on a configured model', () => {
    expect(problems([TEEN])).toEqual([]);
  });

  it('refuses a model that is not configured, naming those that are', () => {
    expect(problems([TEEN], {})).toEqual([
      'rules.0.when.attributes.age: rule teen: unknown model "age" (models: gender)',
    ]);
    const mood = { ...TEEN, when: { attributes: { mood: 'calm' } } };
    expect(problems([mood])).toEqual([
      'rules.0.when.attributes.mood: rule teen: unknown model "mood" (models: gender, age)',
    ]);
  });

  it('refuses a rule on attributes that drives a lock output, opening or not', () => {
    for (const then of [
      { output: 'lock', pulse_ms: 3000 },
      { gpio: 'lock', state: 'on' },
    ])
      expect(problems([{ ...TEEN, then }])).toEqual([
        'rules.0.when.attributes: rule teen: drives the lock "lock" on attributes: an age band or a gender must never gate access (the model cards say so); open a lock with a person rule (when.person)',
      ]);
  });
});

describe('the start check against the manifests', () => {
  const MODELS = [
    { name: 'gender', labels: ['female', 'male'] },
    { name: 'age', labels: ['13-19', '20-29', '30-44', '45-59', '60+'] },
  ];
  const rules = (attributes: object) =>
    rulesSchema.parse([
      { ...TEEN, when: { attributes } },
      { id: 'other', when: {}, then: TEEN.then },
    ]);

  it('passes labels the models have, and the unsure label', () => {
    expect(ruleAttributeIssues(rules({ age: ['13-19', '60+', 'unknown'], gender: 'male' }), MODELS)).toEqual([]);
    expect(() => assertRuleAttributes(rules({ age: '60+' }), MODELS)).not.toThrow();
  });

  it('refuses a label the model does not have, with its labels, as CONFIG_INVALID', () => {
    const bad = rules({ age: ['13-19', '0-12'], gender: 'woman' });
    expect(ruleAttributeIssues(bad, MODELS).map((i) => i.message)).toEqual([
      'rule teen: model "age" has no label "0-12" (its labels: 13-19, 20-29, 30-44, 45-59, 60+, unknown)',
      'rule teen: model "gender" has no label "woman" (its labels: female, male, unknown)',
    ]);
    let thrown: unknown;
    try {
      assertRuleAttributes(bad, MODELS);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FaceedgeError);
    expect((thrown as FaceedgeError).code).toBe('CONFIG_INVALID');
    expect((thrown as FaceedgeError).message).toContain(
      'rules.0.when.attributes.age: rule teen: model "age" has no label "0-12"',
    );
  });

  it('refuses a model that did not load under that name', () => {
    expect(ruleAttributeIssues(rules({ mood: 'calm' }), MODELS).map((i) => i.message)).toEqual([
      'rule teen: no model named "mood" (models: gender, age)',
    ]);
  });
});
