/** Home Assistant discovery takes the class sensor's options from the model's labels, `unknown` included where it can occur. */
import { describe, expect, it } from 'vitest';
import { buildHaDiscovery, type HaDiscoveryInput } from '../../src/mqtt/ha-discovery.js';

const BASE: HaDiscoveryInput = {
  baseTopic: 'faceedge',
  deviceId: 'pi5-door',
  deviceName: 'Front door',
  version: '0.1.0',
  model: 'Raspberry Pi 5',
  cameras: ['door'],
  outputs: [],
  inputs: [],
};

const classSensor = (input: Partial<HaDiscoveryInput>) =>
  (JSON.parse(buildHaDiscovery({ ...BASE, ...input }).payload) as { cmps: Record<string, { options?: string[] }> }).cmps
    .door_class;

describe('the class sensor of a model of any labels', () => {
  it('lists the age bands, and unknown when the model has an unsure floor (HA refuses a state outside them)', () => {
    const bands = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];
    expect(classSensor({ classes: bands, unsure: true }).options).toEqual([...bands, 'unknown']);
    expect(classSensor({ classes: bands }).options).toEqual(bands);
  });
});
