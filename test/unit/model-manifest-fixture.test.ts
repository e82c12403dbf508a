/**
 * The manifest contract, checked against the fixture the Python suite checks too
 * (test/fixtures/manifest): the valid manifest passes, every invalid change is refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelManifestSchema } from '../../src/inference/model-manifest.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const DIR = join(REPO_ROOT, 'test/fixtures/manifest');
const valid = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Record<string, unknown>;
const invalid = JSON.parse(readFileSync(join(DIR, 'invalid.json'), 'utf8')) as {
  why: string;
  set?: Record<string, unknown>;
  delete?: string;
}[];

describe('model manifest contract (shared fixture)', () => {
  it('accepts the fixture and the shipped manifest', () => {
    expect(modelManifestSchema.safeParse(valid).success).toBe(true);
    const shipped = JSON.parse(readFileSync(join(REPO_ROOT, 'models/manifest.json'), 'utf8'));
    expect(modelManifestSchema.safeParse(shipped).success).toBe(true);
  });

  it.each(invalid.map((c) => [c.why, c] as const))('refuses %s', (_why, change) => {
    const manifest: Record<string, unknown> = { ...structuredClone(valid), ...(change.set ?? {}) };
    if (change.delete) delete manifest[change.delete];
    expect(modelManifestSchema.safeParse(manifest).success).toBe(false);
  });
});
