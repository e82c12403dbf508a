import { describe, expect, it, vi } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { BridgeDispatcher, DEFAULT_BRIDGE_REQUEST_BYTES } from '../../src/mqtt/bridge-dispatcher.js';
import { formatEventLine } from '../../src/mqtt/event-printer.js';

describe('BridgeDispatcher', () => {
  const dispatcher = new BridgeDispatcher(silentLogger());
  dispatcher.register('echo', (params) => ({ got: params }));
  dispatcher.register('fails', () => {
    throw new FaceedgeError('MODEL_NOT_FOUND', 'no such model');
  });
  dispatcher.register('crashes', async () => {
    throw new TypeError('boom');
  });

  it('passes parameters without the transaction and echoes the transaction', async () => {
    expect(await dispatcher.dispatch('echo', '{"a":1,"transaction":"t1"}')).toEqual({
      status: 'ok',
      data: { got: { a: 1 } },
      transaction: 't1',
    });
    expect(await dispatcher.dispatch('echo', Buffer.from(''))).toEqual({ status: 'ok', data: { got: {} } });
    expect(await dispatcher.dispatch('echo', '"plain"')).toEqual({ status: 'ok', data: { got: 'plain' } });
  });

  it("refuses a body over its command's bound before parsing it: the default, or the bound the command states", async () => {
    const calls: unknown[] = [];
    const bounded = new BridgeDispatcher(silentLogger());
    bounded.register('small', (params) => void calls.push(params));
    bounded.register('big', { run: (params) => void calls.push(params), maxBodyBytes: 200_000 });
    const body = (bytes: number) => {
      const head = '{"transaction":"t-1","pad":"';
      return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
    };
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const over = await bounded.dispatch('small', Buffer.from(body(DEFAULT_BRIDGE_REQUEST_BYTES + 1)));
      expect(over).toEqual({
        status: 'error',
        data: { code: 'REQUEST_INVALID' },
        error: `bridge request small of ${DEFAULT_BRIDGE_REQUEST_BYTES + 1} bytes is over its bound of ${DEFAULT_BRIDGE_REQUEST_BYTES} bytes`,
        transaction: 't-1',
      });
      expect((await bounded.dispatch('big', body(200_001))).error).toContain('over its bound of 200000 bytes');
      expect((await bounded.dispatch('unknown', body(DEFAULT_BRIDGE_REQUEST_BYTES + 1))).error).toContain(
        'over its bound',
      );
      // Only the transaction's few bytes were looked at: the bodies themselves were never parsed.
      expect(parse.mock.calls.every(([text]) => String(text).length < 100)).toBe(true);
      expect(calls).toEqual([]);
    } finally {
      parse.mockRestore();
    }
    expect((await bounded.dispatch('small', body(DEFAULT_BRIDGE_REQUEST_BYTES))).status).toBe('ok');
    expect((await bounded.dispatch('big', body(200_000))).status).toBe('ok');
    expect(calls).toHaveLength(2);
  });

  it('answers unknown commands, malformed JSON and throwing handlers with errors', async () => {
    expect(await dispatcher.dispatch('nope', '{"transaction":7}')).toEqual({
      status: 'error',
      data: { code: 'REQUEST_INVALID' },
      error: 'unknown command "nope"; known: crashes, echo, fails',
      transaction: 7,
    });
    const malformed = await dispatcher.dispatch('echo', '{"transaction": "abc", "x": ');
    expect(malformed).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' }, transaction: 'abc' });
    expect(malformed.error).toMatch(/malformed JSON/);
    expect(await dispatcher.dispatch('echo', '{oops')).not.toHaveProperty('transaction');
    expect(await dispatcher.dispatch('fails', '{}')).toEqual({
      status: 'error',
      data: { code: 'MODEL_NOT_FOUND' },
      error: 'no such model',
    });
    expect(await dispatcher.dispatch('crashes', '{"transaction":1}')).toEqual({
      status: 'error',
      data: { code: 'INTERNAL' },
      error: 'boom',
      transaction: 1,
    });
  });
});

describe('formatEventLine', () => {
  it('prints one readable line per event and raw text for anything else', () => {
    const payload = {
      type: 'end',
      before: null,
      after: {
        id: 'door-3',
        camera: 'door',
        box: { x: 120, y: 80, width: 64, height: 66 },
        face_area: 4224,
        class: 'female',
        score: 0.912,
        top_score: 0.95,
        frames: 12,
        start_time: 1700000000,
        end_time: 1700000004.2,
        model: 'm',
      },
      seq: 17,
      id: 'u',
    };
    expect(formatEventLine('faceedge/pi/door/events', JSON.stringify(payload))).toBe(
      '22:13:24 door END    door-3 female 0.91 (top 0.95) box 120,80 64x66 frames 12 lasted 4.2s #17',
    );
    expect(formatEventLine('x/events', 'not json')).toBe('x/events: not json');
  });
});
