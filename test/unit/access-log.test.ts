/** The access log file: JSON lines, mode 0600, rotated by size with a bounded number of files, in call order. */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { accessRecord, type AccessDecision } from '../../src/rules/access-decision.js';
import { AccessLog } from '../../src/rules/access-log.js';

const decision = (n: number): AccessDecision => ({
  outcome: n % 2 === 0 ? 'granted' : 'denied',
  reason: n % 2 === 0 ? 'granted' : 'unknown',
  rule: 'front',
  camera: 'door',
  track: `door-${n}`,
  person: n % 2 === 0 ? 'alice' : null,
  similarity: 0.5,
  liveness: 'live',
  liveness_score: 0.9,
  at: n,
});

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { track: string; event: string })
    : [];

describe('AccessLog', () => {
  it('writes one JSON record per decision, mode 0600, in call order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-access-'));
    const file = join(dir, 'state', 'access.log');
    const log = new AccessLog(file, { max_bytes: 1 << 20, files: 3 }, silentLogger());
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.write(accessRecord(decision(i), 1_700_000_000 + i))));
    const records = lines(file);
    expect(records.map((r) => r.track)).toEqual(Array.from({ length: 50 }, (_, i) => `door-${i}`));
    expect(records[0]).toEqual({
      event: 'access_granted',
      time: 1_700_000_000,
      outcome: 'granted',
      reason: 'granted',
      rule: 'front',
      camera: 'door',
      track: 'door-0',
      person: 'alice',
      similarity: 0.5,
      liveness: 'live',
      liveness_score: 0.9,
    });
    expect(records[1]).toMatchObject({ event: 'access_denied', person: null });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('rotates by size and keeps at most `files` files, each within max_bytes, the newest entries kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-access-'));
    const file = join(dir, 'access.log');
    const log = new AccessLog(file, { max_bytes: 4096, files: 3 }, silentLogger());
    for (let i = 0; i < 200; i++) void log.write(accessRecord(decision(i), i));
    await log.flush();
    expect(readdirSync(dir).sort()).toEqual(['access.log', 'access.log.1', 'access.log.2']);
    const all = [...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)].map((r) => r.track);
    for (const name of ['access.log', 'access.log.1', 'access.log.2']) {
      expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(4096);
      expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    }
    // Consecutive, ending with the last one written: nothing lost between the kept files.
    expect(all.at(-1)).toBe('door-199');
    const first = Number(all[0].slice(5));
    expect(all).toEqual(Array.from({ length: 200 - first }, (_, i) => `door-${first + i}`));
    expect(all.length).toBeGreaterThan(20);
  });

  it('takes an existing file to 0600 and keeps appending to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-access-'));
    const file = join(dir, 'access.log');
    writeFileSync(file, `${JSON.stringify(accessRecord(decision(0), 1))}\n`);
    chmodSync(file, 0o644);
    const log = new AccessLog(file, { max_bytes: 1 << 20, files: 2 }, silentLogger());
    await log.write(accessRecord(decision(1), 2));
    expect(lines(file).map((r) => r.track)).toEqual(['door-0', 'door-1']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('logs a failed write and goes on writing once it can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-access-'));
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const log = new AccessLog(join(blocker, 'access.log'), { max_bytes: 4096, files: 2 }, silentLogger());
    await expect(log.write(accessRecord(decision(0)))).resolves.toBeUndefined();
    expect(log.failures).toBe(1);
  });
});
