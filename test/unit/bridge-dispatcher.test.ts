import { describe, expect, it } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { BridgeDispatcher } from '../../src/mqtt/bridge-dispatcher.js';
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
