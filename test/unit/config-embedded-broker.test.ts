import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { loadConfig } from '../../src/config/load-config.js';
import { configSecrets, redactConfig } from '../../src/config/redact-config.js';

const issues = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ env });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
};

describe('embedded broker config', () => {
  it('listens on loopback without a login by default', () => {
    const cfg = loadConfig({ env: {} });
    expect(cfg.embedded_broker).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(issues({ FACEEDGE_EMBEDDED_BROKER__HOST: '::1' })).toEqual([]);
  });

  it('refuses a non-loopback host without a login, naming the key and what to do', () => {
    for (const host of ['0.0.0.0', '192.168.1.20', '::', 'pi.local']) {
      const found = issues({ FACEEDGE_EMBEDDED_BROKER__HOST: host });
      expect(found, host).toHaveLength(1);
      expect(found[0]).toMatch(/^embedded_broker\.host: .*without a login.*embedded_broker\.auth/);
    }
  });

  it('takes a non-loopback host with a login, whose password is redacted and kept out of logs', () => {
    const cfg = loadConfig({
      env: {
        FACEEDGE_EMBEDDED_BROKER__HOST: '0.0.0.0',
        FACEEDGE_EMBEDDED_BROKER__AUTH__USERNAME: 'operator',
        FACEEDGE_EMBEDDED_BROKER__AUTH__PASSWORD: 'open-sesame',
        FACEEDGE_HTTP__AUTH__USERNAME: 'installer',
        FACEEDGE_HTTP__AUTH__PASSWORD: 'aim-the-camera',
      },
    });
    expect(cfg.embedded_broker.auth).toEqual({ username: 'operator', password: 'open-sesame' });
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('open-sesame');
    // Both passwords are scrubbed from every log line (the live view's was missing from the list before).
    expect(configSecrets(cfg)).toEqual(expect.arrayContaining(['open-sesame', 'aim-the-camera']));
    expect(
      issues({ FACEEDGE_EMBEDDED_BROKER__HOST: '0.0.0.0', FACEEDGE_EMBEDDED_BROKER__AUTH__USERNAME: 'operator' }),
    ).toEqual([expect.stringMatching(/^embedded_broker\.auth\.password: /)]);
  });
});
