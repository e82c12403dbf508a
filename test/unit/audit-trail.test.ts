import { describe, expect, it } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import { AuditTrail, MAX_AUDIT_DETAIL_CHARS, type AuditRecord } from '../../src/mqtt/audit-trail.js';
import { BridgeDispatcher } from '../../src/mqtt/bridge-dispatcher.js';
import { silentLogger } from '../../src/observability/logger.js';

const OPERATOR = { who: { client_id: 'laptop', username: 'operator' }, via: 'embedded broker' };

/** An audit trail whose log lines and messages are kept; `broker` false makes every publish reject. */
function recordingTrail(broker = true) {
  const lines: Record<string, unknown>[] = [];
  const messages: { topic: string; record: AuditRecord }[] = [];
  const log = silentLogger();
  log.info = ((obj: Record<string, unknown>, msg: string) => void lines.push({ ...obj, msg })) as typeof log.info;
  const trail = new AuditTrail({
    log,
    topic: 'faceedge/pi/audit',
    publish: (topic, payload) => {
      if (!broker) return Promise.reject(new Error('not connected'));
      messages.push({ topic, record: JSON.parse(payload) as AuditRecord });
      return Promise.resolve();
    },
  });
  return { trail, lines, messages };
}

describe('the audit trail', () => {
  it('writes one line and publishes one message per record, and still logs while the broker is away', async () => {
    const { trail, lines, messages } = recordingTrail();
    const record = trail.record(OPERATOR, { action: 'gpio/set', target: 'relay', outcome: 'accepted' });
    await Promise.resolve();
    expect(messages).toEqual([{ topic: 'faceedge/pi/audit', record }]);
    expect(lines).toEqual([expect.objectContaining({ ...record, msg: 'gpio/set relay: accepted' })]);
    const away = recordingTrail(false);
    expect(() =>
      away.trail.record(OPERATOR, { action: 'gpio/set', target: 'relay', outcome: 'refused' }),
    ).not.toThrow();
    expect(away.lines).toHaveLength(1);
  });

  it('bounds the detail', () => {
    const { trail } = recordingTrail();
    const big = trail.record(OPERATOR, {
      action: 'bridge/x',
      target: 'x',
      outcome: 'accepted',
      detail: { blob: 'a'.repeat(MAX_AUDIT_DETAIL_CHARS) },
    });
    expect(big.detail).toEqual({ omitted: expect.stringMatching(/more than 2048/) });
  });

  it('is fed by the bridge dispatcher for every command but read-only ones, accepted, refused or unknown', async () => {
    const { trail, messages } = recordingTrail();
    const dispatcher = new BridgeDispatcher(silentLogger(), trail);
    dispatcher.register('health_check', { run: () => ({ healthy: true }), readOnly: true });
    dispatcher.register('options', {
      run: (p) => {
        if ((p as { bad?: boolean }).bad) throw new FaceedgeError('REQUEST_INVALID', 'bad is not an option');
        return { ok: true };
      },
      describe: (params) => ({ target: 'thresholds', detail: { set: params } }),
    });
    dispatcher.register('plain', () => 'done');
    dispatcher.register('throws', { run: () => 1, describe: () => JSON.parse('{') as never });
    await dispatcher.dispatch('health_check', '{}', OPERATOR);
    await dispatcher.dispatch('options', '{"a":1,"transaction":"t"}', OPERATOR);
    await dispatcher.dispatch('options', '{"bad":true}', OPERATOR);
    await dispatcher.dispatch('nope', '{}', OPERATOR);
    await dispatcher.dispatch('plain', '{not json', OPERATOR);
    await dispatcher.dispatch('throws', '{}');
    expect(messages.map(({ record: r }) => [r.action, r.target, r.outcome, r.detail, r.who?.client_id])).toEqual([
      ['bridge/options', 'thresholds', 'accepted', { set: { a: 1 } }, 'laptop'],
      ['bridge/options', 'options', 'refused', { code: 'REQUEST_INVALID', error: 'bad is not an option' }, 'laptop'],
      [
        'bridge/nope',
        'nope',
        'refused',
        { code: 'REQUEST_INVALID', error: expect.stringMatching(/unknown command/) },
        'laptop',
      ],
      [
        'bridge/plain',
        'plain',
        'refused',
        { code: 'REQUEST_INVALID', error: expect.stringMatching(/malformed JSON/) },
        'laptop',
      ],
      // A describer that throws costs the detail, not the record; no origin given: unknown.
      ['bridge/throws', 'throws', 'accepted', {}, undefined],
    ]);
    expect(messages[4].record.via).toBe('unknown');
  });
});
