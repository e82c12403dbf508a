/** `classifiers[].head` (issue 24 §4): a head on the face embedding beside a model, its manifest beside it by default. */
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';

const gender = { name: 'gender', model: 'models/faceedge-gender_int8.tflite' };

describe('classifiers[].head', () => {
  it('resolves the head and its manifest (beside it unless head_manifest says otherwise); absent without head', () => {
    const cfg = parseConfig(
      {
        classifiers: [
          gender,
          { name: 'age', model: 'models/age/a.tflite', head: 'models/age/head/h.tflite' },
          { name: 'age2', model: 'models/age/a.tflite', head: 'x/h.tflite', head_manifest: 'y/h.json' },
        ],
      },
      { hostname: 'pi' },
    );
    expect(cfg.classifiers[0]).not.toHaveProperty('head');
    expect(cfg.classifiers[1].head).toEqual({
      model: 'models/age/head/h.tflite',
      manifest: 'models/age/head/manifest.json',
    });
    expect(cfg.classifiers[2].head).toEqual({ model: 'x/h.tflite', manifest: 'y/h.json' });
    expect(cfg.classifiers[1]).not.toHaveProperty('head_manifest');
  });

  it('refuses head_manifest without head, and head on the single classifier: section', () => {
    const issues = (tree: unknown) => {
      try {
        parseConfig(tree, { hostname: 'pi' });
        return [];
      } catch (err) {
        if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
        throw err;
      }
    };
    expect(issues({ classifiers: [gender, { name: 'age', model: 'a.tflite', head_manifest: 'h.json' }] })).toEqual([
      'classifiers.1.head_manifest: head_manifest needs head',
    ]);
    expect(issues({ classifier: { model: 'a.tflite', head: 'h.tflite' } }).join()).toMatch(/classifier/);
  });
});
