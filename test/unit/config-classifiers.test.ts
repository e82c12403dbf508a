/**
 * Several models per face (issue 24 §3): `classifiers:` as a list of named models, and `classifier:` as
 * a list of one named `gender` (existing configs unchanged); names unique, not both sections.
 */
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';

function problems(tree: unknown): string[] {
  try {
    parseConfig(tree, { hostname: 'pi' });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('classifiers configuration', () => {
  it('reads an old classifier: section as one model named gender, classifier itself unchanged', () => {
    const cfg = parseConfig({ classifier: { model: 'm/a.tflite', threads: '2' } }, { hostname: 'pi' });
    expect(cfg.classifier).toEqual({
      model: 'm/a.tflite',
      manifest: 'm/manifest.json',
      threads: 2,
      delegate: 'xnnpack',
      delegate_options: {},
    });
    expect(cfg.classifiers).toEqual([{ ...cfg.classifier, name: 'gender' }]);
    expect(parseConfig({}, { hostname: 'pi' }).classifiers.map((c) => [c.name, c.model])).toEqual([
      ['gender', 'models/faceedge-gender_int8.tflite'],
    ]);
  });

  it('names the one model after classifier.name when given', () => {
    const cfg = parseConfig({ classifier: { model: 'm/age.tflite', name: 'age' } }, { hostname: 'pi' });
    expect(cfg.classifiers.map((c) => c.name)).toEqual(['age']);
  });

  it('takes a list: every model with its own settings, the first one as classifier', () => {
    const cfg = parseConfig(
      {
        classifiers: [
          { name: 'gender', model: 'models/g.tflite', flip_average: 'true' },
          { name: 'age', model: 'age/age_int8.tflite', manifest: 'age/m.json', interval_ms: '1000', threads: 2 },
        ],
      },
      { hostname: 'pi' },
    );
    expect(cfg.classifiers).toEqual([
      {
        name: 'gender',
        model: 'models/g.tflite',
        manifest: 'models/manifest.json',
        threads: 1,
        delegate: 'xnnpack',
        delegate_options: {},
        flip_average: true,
      },
      {
        name: 'age',
        model: 'age/age_int8.tflite',
        manifest: 'age/m.json',
        threads: 2,
        delegate: 'xnnpack',
        delegate_options: {},
        interval_ms: 1000,
      },
    ]);
    expect(cfg.classifier).toBe(cfg.classifiers[0]);
  });

  it('refuses duplicate names, bad names, a list item without a model, an empty list and unknown keys', () => {
    expect(
      problems({
        classifiers: [
          { name: 'gender', model: 'a.tflite' },
          { name: 'age', model: 'b.tflite' },
          { name: 'gender', model: 'c.tflite' },
        ],
      }),
    ).toEqual(['classifiers.2.name: duplicate classifier name "gender" (also classifiers.0.name)']);
    expect(problems({ classifiers: [{ name: 'age/band', model: 'a.tflite' }] })[0]).toMatch(
      /^classifiers\.0\.name: classifier name may only contain/,
    );
    expect(problems({ classifiers: [{ name: 'age' }] })).toHaveLength(1);
    expect(problems({ classifiers: [{ name: 'age' }] })[0]).toMatch(/^classifiers\.0\.model: /);
    expect(problems({ classifiers: [] })).toEqual(['classifiers: classifiers: needs at least one model']);
    expect(
      problems({
        classifiers: [
          { name: 'g', model: 'a.tflite' },
          { name: 'versions', model: 'b.tflite' },
        ],
      }),
    ).toEqual([
      "classifiers.1.name: a classifier may not be named versions, current, previous: its model store would be one of the model store's own folders",
    ]);
    expect(problems({ classifiers: [{ name: 'a', model: 'a.tflite', cadence: 3 }] })[0]).toMatch(
      /^classifiers\.0\.cadence: /,
    );
  });

  it('refuses an interval on the first model (it follows tracker.classify_interval_ms) and both sections at once', () => {
    expect(problems({ classifiers: [{ name: 'gender', model: 'a.tflite', interval_ms: 500 }] })).toEqual([
      'classifiers.0.interval_ms: the first classifier follows tracker.classify_interval_ms: set that instead',
    ]);
    expect(problems({ classifier: { threads: 2 }, classifiers: [{ name: 'gender', model: 'a.tflite' }] })).toEqual([
      'classifier: set either classifier: (one model) or classifiers: (a list), not both; move its settings into the list',
    ]);
  });
});
