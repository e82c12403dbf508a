import { describe, expect, it } from 'vitest';
import { DaemonParts } from '../../src/daemon/daemon-parts.js';
import { silentLogger } from '../../src/observability/logger.js';

describe('DaemonParts', () => {
  it('stops the started parts in reverse order of start, once each', async () => {
    const parts = new DaemonParts();
    const stopped: string[] = [];
    for (const name of ['broker', 'detector', 'mqtt', 'cameras'])
      parts.started(name, name, async (n) => void stopped.push(n));
    expect(parts.names).toEqual(['broker', 'detector', 'mqtt', 'cameras']);
    await parts.stopAll(silentLogger());
    await parts.stopAll(silentLogger());
    expect(stopped).toEqual(['cameras', 'mqtt', 'detector', 'broker']);
  });

  it('a part that fails to stop is logged and the parts before it still stop', async () => {
    const parts = new DaemonParts();
    const stopped: string[] = [];
    parts.started('mqtt', 1, () => void stopped.push('mqtt'));
    parts.started('gpio', 2, () => {
      throw new Error('line busy');
    });
    parts.started('cameras', 3, () => void stopped.push('cameras'));
    const logged: unknown[] = [];
    const log = { error: (fields: unknown, msg: string) => logged.push([fields, msg]) } as unknown as Parameters<
      DaemonParts['stopAll']
    >[0];
    await parts.stopAll(log);
    expect(stopped).toEqual(['cameras', 'mqtt']);
    expect(logged).toEqual([[{ part: 'gpio', err: 'line busy' }, 'part did not stop cleanly']]);
  });
});
