/**
 * State shared across awaits in the fleet code, called concurrently: the board's model/rollback
 * handler (one rollback per if_sha256, however many requests race) and the rollout state file (many
 * boards updated at once, every write complete and the last one wins).
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelRollbackHandler, type ServingModel } from '../../src/daemon/model-rollback-command.js';
import { newRolloutState, readRolloutState, RolloutStateFile } from '../../src/fleet/rollout-state.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('model/rollback handler', () => {
  it('rolls back once when several guarded requests race; the others see the guard', async () => {
    let serving: ServingModel = { id: 'new', sha256: B };
    let rollbacks = 0;
    const handler = modelRollbackHandler({
      updates: () => ({
        rollback: async () => {
          rollbacks++;
          await new Promise((r) => setTimeout(r, 20)); // the store swap and the reload take time
          serving = { id: 'old', sha256: A };
          return 'previous' as const;
        },
      }),
      serving: () => serving,
      serveConfigured: async () => undefined,
    });
    const results = (await Promise.all(Array.from({ length: 5 }, () => handler({ if_sha256: B })))) as Array<{
      rolled_back: boolean;
    }>;
    expect(rollbacks).toBe(1);
    expect(results.map((r) => r.rolled_back)).toEqual([true, false, false, false, false]);
    expect(serving.sha256).toBe(A);
  });

  it('serves classifier.model when the store had no previous model, and refuses bad parameters', async () => {
    let configured = 0;
    const handler = modelRollbackHandler({
      updates: () => ({ rollback: async () => 'configured' as const }),
      serving: () => ({ id: 'x', sha256: A }),
      serveConfigured: async () => void configured++,
    });
    expect(await handler({})).toMatchObject({ rolled_back: true, source: 'configured' });
    expect(configured).toBe(1);
    await expect(handler({ if_sha256: 'short' })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    await expect(handler({ other: 1 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    const notYet = modelRollbackHandler({
      updates: () => null,
      serving: () => null,
      serveConfigured: async () => undefined,
    });
    await expect(notYet({})).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});

describe('RolloutStateFile', () => {
  it('keeps the file whole and current while many boards update it at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-rollout-state-'));
    const devices = Array.from({ length: 40 }, (_, i) => `d${i}`);
    const file = new RolloutStateFile(
      join(dir, 'state.json'),
      newRolloutState({ dir: '/pkg', id: 'm', sha256: A }, [devices.slice(0, 2), devices.slice(2)]),
    );
    await Promise.all(
      devices.flatMap((d) => [
        file.board(d, 'pushing', { previous_sha256: B }),
        file.board(d, 'switched', { switched: true }),
      ]),
    );
    await file.finish('completed');
    const back = await readRolloutState(join(dir, 'state.json'));
    expect(back?.status).toBe('completed');
    expect(
      Object.values(back!.boards).every((b) => b.state === 'switched' && b.switched && b.previous_sha256 === B),
    ).toBe(true);
    expect(readdirSync(dir)).toEqual(['state.json']); // no temp file left behind
    expect(() => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).not.toThrow();
  });

  it('reads no state as null and a foreign file as a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-rollout-state-'));
    expect(await readRolloutState(join(dir, 'none.json'))).toBeNull();
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"hello":1}');
    await expect(readRolloutState(other)).rejects.toMatchObject({ code: 'USAGE' });
  });
});
