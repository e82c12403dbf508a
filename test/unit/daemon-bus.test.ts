import { describe, expect, it } from 'vitest';
import { DaemonBus } from '../../src/daemon/daemon-bus.js';
import { definePart, type PartContext } from '../../src/daemon/daemon-part.js';
import type { FaceedgeConfig } from '../../src/config/config-schema.js';
import type { Logger } from '../../src/observability/logger.js';

function recordingLog() {
  const errors: unknown[] = [];
  const log = { error: (fields: unknown, msg: string) => errors.push([fields, msg]) } as unknown as Logger;
  return { log, errors };
}

describe('DaemonBus', () => {
  it('tells every subscriber in subscription order, until it unsubscribes', () => {
    const bus = new DaemonBus(recordingLog().log);
    const heard: string[] = [];
    bus.on('facePresence', (camera, present) => heard.push(`mqtt ${camera} ${present}`));
    const off = bus.on('facePresence', (camera) => heard.push(`gpio ${camera}`));
    bus.on('captureStatus', (camera) => heard.push(`live ${camera}`));
    bus.emit('facePresence', 'door', true);
    off();
    bus.emit('facePresence', 'yard', false);
    expect(heard).toEqual(['mqtt door true', 'gpio door', 'mqtt yard false']);
  });

  it('a subscriber that throws is logged, and the ones after it still hear the event', () => {
    const { log, errors } = recordingLog();
    const bus = new DaemonBus(log);
    const heard: string[] = [];
    bus.on('ruleAction', () => {
      throw new Error('rules bug');
    });
    bus.on('ruleAction', (payload) => heard.push(String(payload.rule)));
    bus.emit('ruleAction', { rule: 'door' });
    expect(heard).toEqual(['door']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject([
      { event: 'ruleAction' },
      'a subscriber of a daemon event failed; the others still run',
    ]);
  });
});

describe('definePart', () => {
  const context = {} as PartContext;
  const part = definePart({
    name: 'homeassistant',
    slice: (config) => (config.homeassistant.enabled ? { prefix: config.homeassistant.discovery_prefix } : null),
    create: (slice) => ({ summary: () => ({ prefix: slice.prefix }) }),
  });

  it('builds the part from its slice of the config, or leaves it out when the slice is null', () => {
    const on = { homeassistant: { enabled: true, discovery_prefix: 'ha' } } as FaceedgeConfig;
    const off = { homeassistant: { enabled: false, discovery_prefix: 'ha' } } as FaceedgeConfig;
    expect(part.name).toBe('homeassistant');
    expect(part.build(on, context)?.summary?.()).toEqual({ prefix: 'ha' });
    expect(part.build(off, context)).toBeNull();
  });
});
