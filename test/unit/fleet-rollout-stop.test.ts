/**
 * How a stopping rollout settles each board, against a scripted fleet: a board that gives no answer in
 * time (a loaded board answers late) is asked again, and rolled back, rather than left switched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import type { FleetConnection } from '../../src/fleet/fleet-connection.js';
import { newRolloutState, RolloutStateFile } from '../../src/fleet/rollout-state.js';
import { stopRollout } from '../../src/fleet/rollout-stop.js';
import type { BridgeResponse } from '../../src/mqtt/bridge-dispatcher.js';

const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const noAnswer = (d: string, command: string) =>
  new FaceedgeError('MQTT_FAILED', `${d}: no answer to ${command} within 60000 ms`);

/**
 * A fleet of boards that serve `NEW` and roll back to `OLD`; `silent[command]` is how many of the first
 * requests of that command each board leaves unanswered. Records every request.
 */
function scriptedFleet(silent: Record<string, number>) {
  const serving = new Map<string, string>();
  const asked: string[] = [];
  const fleet = {
    view: { board: (d: string) => ({ device: d, online: true, model: { sha256: serving.get(d) ?? NEW } }) },
    async request(d: string, command: string, params: Record<string, unknown>): Promise<BridgeResponse> {
      asked.push(`${d} ${command}`);
      const left = silent[command] ?? 0;
      if (left > 0) {
        silent[command] = left - 1;
        throw noAnswer(d, command);
      }
      const now = serving.get(d) ?? NEW;
      if (command === 'health_check') return { status: 'ok', data: { ready: true, model: { sha256: now } } };
      if (command === 'model/rollback') {
        if (params.if_sha256 !== now) return { status: 'ok', data: { rolled_back: false, model: { sha256: now } } };
        serving.set(d, OLD);
        return { status: 'ok', data: { rolled_back: true, model: { sha256: OLD } } };
      }
      throw new Error(`unexpected ${command}`);
    },
  };
  return { fleet: fleet as unknown as FleetConnection, asked, serving };
}

describe('stopRollout', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faceedge-stop-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function switchedBoard() {
    const st = new RolloutStateFile(
      join(dir, 'state.json'),
      newRolloutState({ dir, id: 'pkg', sha256: NEW }, [['b1']]),
    );
    await st.board('b1', 'healthy', { switched: true, push_started: true, previous_sha256: OLD });
    return st;
  }

  it('asks again a board whose rollback got no answer, and rolls it back', async () => {
    const { fleet, asked, serving } = scriptedFleet({ 'model/rollback': 1 });
    const st = await switchedBoard();
    const lines: string[] = [];
    await stopRollout(
      { fleet, st, target: st.state.package, concurrency: 4, log: (l) => lines.push(l), retryPauseMs: 1 },
      'test',
    );
    expect(st.state.boards.b1).toMatchObject({ state: 'rolled-back', serving_at_stop: OLD });
    expect(serving.get('b1')).toBe(OLD);
    expect(asked).toEqual(['b1 health_check', 'b1 model/rollback', 'b1 model/rollback']);
    expect(lines.some((l) => /no answer to model\/rollback .* asking again/.test(l))).toBe(true);
  });

  it('asks again a board whose health_check got no answer before deciding it cannot be rolled back', async () => {
    const { fleet } = scriptedFleet({ health_check: 2 });
    const st = await switchedBoard();
    await stopRollout({ fleet, st, target: st.state.package, concurrency: 4, log: () => {}, retryPauseMs: 1 }, 'x');
    expect(st.state.boards.b1.state).toBe('rolled-back');
  });

  it('gives up after its tries, and reports the board not rolled back with the cause', async () => {
    const { fleet, asked } = scriptedFleet({ 'model/rollback': 3 });
    const st = await switchedBoard();
    await stopRollout({ fleet, st, target: st.state.package, concurrency: 4, log: () => {}, retryPauseMs: 1 }, 'x');
    expect(st.state.boards.b1.state).toBe('rollback-failed');
    expect(st.state.boards.b1.error).toMatch(/rollback: b1: no answer to model\/rollback/);
    expect(asked.filter((a) => a.endsWith('model/rollback'))).toHaveLength(3);
  });
});

describe('stopRollout of a rollout addressed by name', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faceedge-stop-named-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads the named model in health_check and rolls back only it, by name', async () => {
    // The board's first model serves NEW too (it got the same package earlier, outside this rollout): a rollback
    // without the name would move the first model.
    const serving = { first: NEW, age: NEW };
    const requests: Array<{ command: string; params: Record<string, unknown> }> = [];
    const fleet = {
      view: { board: () => ({ device: 'b1', online: true, model: { sha256: serving.first }, models: [] }) },
      async request(_d: string, command: string, params: Record<string, unknown>): Promise<BridgeResponse> {
        requests.push({ command, params });
        const models = [
          { name: 'first', sha256: serving.first },
          { name: 'age', sha256: serving.age },
        ];
        if (command === 'health_check') return { status: 'ok', data: { ready: true, model: models[0], models } };
        const key = params.name === 'age' ? 'age' : 'first';
        if (params.if_sha256 !== serving[key]) return { status: 'ok', data: { rolled_back: false } };
        serving[key] = OLD;
        return { status: 'ok', data: { rolled_back: true, model: { sha256: OLD } } };
      },
    } as unknown as FleetConnection;
    const st = new RolloutStateFile(
      join(dir, 'state.json'),
      newRolloutState({ dir, id: 'pkg', sha256: NEW, name: 'age' }, [['b1']]),
    );
    await st.board('b1', 'healthy', { switched: true, push_started: true, previous_sha256: OLD });
    await stopRollout({ fleet, st, target: st.state.package, concurrency: 4, log: () => {}, retryPauseMs: 1 }, 'x');
    expect(requests.map((r) => r.command)).toEqual(['health_check', 'model/rollback']);
    expect(requests[1].params).toEqual({ if_sha256: NEW, name: 'age' });
    expect(serving).toEqual({ first: NEW, age: OLD });
    expect(st.state.boards.b1).toMatchObject({ state: 'rolled-back', serving_at_stop: OLD });
  });
});
