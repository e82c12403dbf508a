/**
 * The lockout kept across restarts (src/rules/lockout-store.ts) with the AccessLockout it feeds: what a
 * restart takes back, how the two clocks map (a board whose clock is behind after a power cut does not count
 * the time it was off), and what counts as damaged (fail-secure, in the part: every camera locked out).
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { AccessLockout, EVERY_CAMERA } from '../../src/rules/access-lockout.js';
import { lockoutSchema } from '../../src/rules/access-schema.js';
import { LOCKOUT_FILE_NAME, LockoutStore, MAX_LOCKOUT_FILE_BYTES } from '../../src/rules/lockout-store.js';

const CONFIG = lockoutSchema.parse({ attempts: 3, window_s: 60, duration_s: 300 });

/** A store whose clocks the test sets: engine ms since the process started, wall ms since 1970. */
function storeAt(dir: string, clocks: { engine: number; wall: number }) {
  return new LockoutStore(join(dir, LOCKOUT_FILE_NAME), silentLogger(), {
    engineMs: () => clocks.engine,
    wallMs: () => clocks.wall,
  });
}

async function lockedOutAt(dir: string, clocks: { engine: number; wall: number }) {
  const loaded = await storeAt(dir, clocks).load();
  const lockout = new AccessLockout(CONFIG);
  if (loaded.kind === 'restored') lockout.restore(loaded.snapshot, loaded.nowMs);
  return { loaded, lockout };
}

describe('LockoutStore', () => {
  const WALL = 1_800_000_000_000;

  it('takes back attempts and a lockout, and counts the time the board was off when the clock shows it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-lockout-'));
    const clocks = { engine: 10_000, wall: WALL };
    const store = storeAt(dir, clocks);
    const door = new AccessLockout(CONFIG, (s) => store.save(s));
    for (const track of ['t1', 't2', 't3']) door.attempt('door', track, 10_000);
    door.attempt('porch', 'p1', 10_000);
    await store.flush();
    const file = join(dir, LOCKOUT_FILE_NAME);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([LOCKOUT_FILE_NAME]); // no temporary file left
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      cameras: { door: { attempts: [], locked_until: WALL + 300_000 }, porch: { attempts: [WALL] } },
    });

    // Restarted 30 s later (the engine clock starts again near 0): 270 s of lockout left.
    const { lockout } = await lockedOutAt(dir, { engine: 500, wall: WALL + 30_000 });
    expect(lockout.lockouts(500)).toEqual({ door: 270_500 });
    // The porch's attempt is still in its window: two more lock it out.
    lockout.attempt('porch', 'p1', 600);
    expect(lockout.attempt('porch', 'p2', 700)).toBe(3);
  });

  it('does not count the time off when the clock went back (no real-time clock), and never locks for more than duration_s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-lockout-'));
    const store = storeAt(dir, { engine: 0, wall: WALL });
    const door = new AccessLockout(CONFIG, (s) => store.save(s));
    for (const track of ['t1', 't2', 't3']) door.attempt('door', track, 0);
    await store.flush();
    // The board restarts with its clock an hour behind the one that wrote the file: 300 s left, not 3900.
    const behind = await lockedOutAt(dir, { engine: 50, wall: WALL - 3_600_000 });
    expect(behind.lockout.lockouts(50)).toEqual({ door: 300_050 });
    // An hour later by the clock: over.
    const later = await lockedOutAt(dir, { engine: 50, wall: WALL + 3_600_000 });
    expect(later.lockout.lockouts(50)).toEqual({});
    // A file claiming a lockout until far in the future is cut to one duration.
    writeFileSync(
      join(dir, LOCKOUT_FILE_NAME),
      JSON.stringify({ version: 1, saved_at: WALL, cameras: { door: { attempts: [], locked_until: WALL * 2 } } }),
    );
    const far = await lockedOutAt(dir, { engine: 0, wall: WALL });
    expect(far.lockout.lockouts(0)).toEqual({ door: 300_000 });
  });

  it('a missing file is a first start; anything unreadable, too large, not JSON or off-schema is damaged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-lockout-'));
    const clocks = { engine: 0, wall: WALL };
    expect(await storeAt(dir, clocks).load()).toEqual({ kind: 'none' });
    const file = join(dir, LOCKOUT_FILE_NAME);
    const cases: [string, string][] = [
      ['{"version":1', 'not JSON'],
      [JSON.stringify({ version: 2, saved_at: WALL, cameras: {} }), 'version'],
      [
        JSON.stringify({ version: 1, saved_at: WALL, cameras: { door: { attempts: ['x'] } } }),
        'cameras.door.attempts.0',
      ],
      [JSON.stringify({ version: 1, saved_at: WALL, cameras: {}, open: true }), 'Unrecognized key'],
      [' '.repeat(MAX_LOCKOUT_FILE_BYTES + 1), 'over the bound'],
    ];
    for (const [text, reason] of cases) {
      writeFileSync(file, text);
      const loaded = await storeAt(dir, clocks).load();
      expect(loaded.kind).toBe('damaged');
      expect(loaded.kind === 'damaged' && loaded.reason).toContain(reason);
    }
  });

  it('a lockout of every camera is kept too, and the latest of concurrent saves wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-lockout-'));
    const store = storeAt(dir, { engine: 0, wall: WALL });
    const lockout = new AccessLockout(CONFIG, (s) => store.save(s));
    lockout.lockEveryCamera(0);
    for (let i = 0; i < 20; i++) lockout.attempt(`cam${i % 4}`, `t${i}`, i);
    await store.flush();
    const { lockout: back } = await lockedOutAt(dir, { engine: 20, wall: WALL + 20 });
    expect(back.lockouts(0)[EVERY_CAMERA]).toBe(300_000);
    expect(back.lockedOut('anywhere', 299_999)).toBe(true);
    expect(back.snapshot(20).cameras).toEqual(lockout.snapshot(20).cameras);
  });
});

describe('AccessLockout.restore', () => {
  it('merges the restored attempts with those counted while the file was read, never overwriting them', () => {
    const lockout = new AccessLockout(CONFIG);
    lockout.attempt('door', 'new-run-1', 5_000); // counted while #restoreLockout still read the file
    lockout.restore({ cameras: { door: { attempts: [4_000] }, gate: { attempts: [4_500] } } }, 5_100);
    expect(lockout.snapshot(5_100).cameras).toEqual({
      door: { attempts: [4_000, 5_000] },
      gate: { attempts: [4_500] },
    });
    // One more refused face at the door is the third within the window: locked out, as without the restart.
    expect(lockout.attempt('door', 'new-run-2', 5_200)).toBe(3);
  });

  it('locks out when the merged attempts reach the limit, and keeps a lockout started meanwhile', () => {
    const lockout = new AccessLockout(CONFIG);
    lockout.attempt('door', 'a', 5_000);
    lockout.restore({ cameras: { door: { attempts: [3_000, 4_000] } } }, 5_100);
    expect(lockout.lockedOut('door', 5_100)).toBe(true);
    const gate = new AccessLockout(CONFIG);
    for (const track of ['a', 'b', 'c']) gate.attempt('gate', track, 5_000); // locked out meanwhile
    gate.restore({ cameras: { gate: { attempts: [4_000] } } }, 5_100);
    expect(gate.lockedOut('gate', 5_100)).toBe(true);
    expect(gate.lockouts(5_100)).toEqual({ gate: 305_000 });
  });
});
