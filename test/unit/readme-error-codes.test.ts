/**
 * The README's error table is complete: every FaceedgeError code that `src/` uses (thrown or tested for) has
 * a row, and the table names no code that does not exist.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('README error table', () => {
  it('has a row for every error code used in src/, and none for a code that does not exist', () => {
    const errors = readFileSync(join(ROOT, 'src/errors.ts'), 'utf8');
    const union = errors.slice(
      errors.indexOf('export type FaceedgeErrorCode'),
      errors.indexOf('export class FaceedgeError'),
    );
    const declared = new Set([...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]));
    expect(declared.size).toBeGreaterThan(30);
    const used = new Set<string>();
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      if (file.endsWith(join('src', 'errors.ts'))) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/'([A-Z][A-Z_]+)'/g)) if (declared.has(m[1])) used.add(m[1]);
    }
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## MQTT topics'));
    const rows = new Set([...section.matchAll(/^\| `([A-Z_]+)`\s*\|/gm)].map((m) => m[1]));
    expect([...used].filter((code) => !rows.has(code)).sort()).toEqual([]);
    expect([...rows].filter((code) => !declared.has(code)).sort()).toEqual([]);
  });
});
