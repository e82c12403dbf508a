/** gpio/<name>/set payloads and the retained state message. */
import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { MAX_GPIO_COMMAND_BYTES, parseGpioCommand } from '../../src/gpio/gpio-mqtt.js';
import { MqttTopics } from '../../src/mqtt/mqtt-topics.js';

describe('gpio set commands', () => {
  it('refuses a payload over its bound before reading it, and names no part of it', () => {
    const padded = `{"state":"ON","pad":"${'x'.repeat(MAX_GPIO_COMMAND_BYTES)}"}`;
    let error: unknown;
    try {
      parseGpioCommand(Buffer.from(padded));
    } catch (err) {
      error = err;
    }
    expect(isFaceedgeError(error, 'REQUEST_INVALID')).toBe(true);
    expect((error as Error).message).toBe(
      `GPIO command of ${padded.length} bytes is over its bound of ${MAX_GPIO_COMMAND_BYTES} bytes`,
    );
    expect(parseGpioCommand(`{"state":"ON"}${' '.repeat(MAX_GPIO_COMMAND_BYTES - 14)}`)).toEqual({
      kind: 'set',
      on: true,
    });
  });

  it('accepts ON/OFF in any case and their usual spellings', () => {
    expect(parseGpioCommand('ON')).toEqual({ kind: 'set', on: true });
    expect(parseGpioCommand(' off \n')).toEqual({ kind: 'set', on: false });
    expect(parseGpioCommand(Buffer.from('1'))).toEqual({ kind: 'set', on: true });
    expect(parseGpioCommand('{"state":"OFF"}')).toEqual({ kind: 'set', on: false });
  });

  it('turns pulse_ms into a pulse', () => {
    expect(parseGpioCommand('{"state":"ON","pulse_ms":3000}')).toEqual({ kind: 'pulse', ms: 3000 });
    expect(parseGpioCommand('{"pulse_ms":250}')).toEqual({ kind: 'pulse', ms: 250 });
  });

  it.each([
    ['toggle', /not ON, OFF/],
    ['{"state":"ON",', /malformed/],
    ['[1]', /not ON, OFF/],
    ['{"state":"maybe"}', /state must be ON or OFF/],
    ['{"state":"OFF","pulse_ms":100}', /ambiguous/],
    ['{"state":"ON","pulse_ms":-5}', /positive whole number/],
    ['{"state":"ON","pulse_ms":1.5}', /positive whole number/],
    ['{"state":"ON","duration":5}', /unknown key duration/],
    ['{}', /needs state or pulse_ms/],
  ])('refuses %s', (payload, why) => {
    let caught: unknown;
    try {
      parseGpioCommand(payload);
    } catch (err) {
      caught = err;
    }
    expect(isFaceedgeError(caught, 'REQUEST_INVALID')).toBe(true);
    expect((caught as Error).message).toMatch(why);
  });
});

describe('gpio topics', () => {
  const topics = new MqttTopics('faceedge', 'pi5');

  it('maps set topics to output names and nothing else', () => {
    expect(topics.gpioSetFilter).toBe('faceedge/pi5/gpio/+/set');
    expect(topics.gpioSet('relay')).toBe('faceedge/pi5/gpio/relay/set');
    expect(topics.gpioState('relay')).toBe('faceedge/pi5/gpio/relay/state');
    expect(topics.gpioNameOfSet('faceedge/pi5/gpio/relay/set')).toBe('relay');
    expect(topics.gpioNameOfSet('faceedge/pi5/gpio/relay/state')).toBeNull();
    expect(topics.gpioNameOfSet('faceedge/other/gpio/relay/set')).toBeNull();
    expect(topics.gpioNameOfSet('faceedge/pi5/gpio/a/b/set')).toBeNull();
  });
});
