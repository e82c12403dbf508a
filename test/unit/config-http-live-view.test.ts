import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { loadConfig } from '../../src/config/load-config.js';

const issues = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ env });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
};

describe('http config of the live view', () => {
  it('defaults to no credentials and no face pictures', () => {
    const cfg = loadConfig({ env: {} });
    expect(cfg.http.auth).toBeUndefined();
    expect(cfg.http.snapshots).toBe(false);
  });

  it('takes auth and snapshots from the environment like every other key', () => {
    const cfg = loadConfig({
      env: {
        FACEEDGE_HTTP__AUTH__USERNAME: 'installer',
        FACEEDGE_HTTP__AUTH__PASSWORD: 'pw',
        FACEEDGE_HTTP__SNAPSHOTS: 'true',
      },
    });
    expect(cfg.http).toMatchObject({ auth: { username: 'installer', password: 'pw' }, snapshots: true });
  });

  it('refuses half credentials, empty ones and unknown keys, with their paths', () => {
    expect(issues({ FACEEDGE_HTTP__AUTH__USERNAME: 'installer' }).map((p) => p.split(':')[0])).toEqual([
      'http.auth.password',
    ]);
    expect(
      issues({ FACEEDGE_HTTP__AUTH__USERNAME: 'installer', FACEEDGE_HTTP__AUTH__PASSWORD: '' }).map(
        (p) => p.split(':')[0],
      ),
    ).toEqual(['http.auth.password']);
    expect(
      issues({
        FACEEDGE_HTTP__AUTH__USERNAME: 'a',
        FACEEDGE_HTTP__AUTH__PASSWORD: 'b',
        FACEEDGE_HTTP__AUTH__REALM: 'x',
      }).map((p) => p.split(':')[0]),
    ).toEqual(['http.auth.realm']);
    expect(issues({ FACEEDGE_HTTP__SNAPSHOTS: 'maybe' }).map((p) => p.split(':')[0])).toEqual(['http.snapshots']);
  });
});
