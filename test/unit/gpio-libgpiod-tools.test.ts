/** Version parsing, chip lookup and the exact v1/v2 argument lists of the libgpiod tools. */
import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import {
  getArgs,
  holdArgs,
  monitorArgs,
  oneShotArgs,
  parseGetOutput,
  parseGpiodetect,
  parseLibgpiodVersion,
  parseMonitorLine,
  pickChip,
  type LibgpiodTools,
} from '../../src/gpio/libgpiod-tools.js';

const V1: LibgpiodTools = { major: 1, version: '1.6.3', interactive: false };
const V2: LibgpiodTools = { major: 2, version: '2.1.3', interactive: true };
const LINE = { chip: 'gpiochip4', offset: 17, activeLow: false, consumer: 'faceedge-relay' };

describe('libgpiod version', () => {
  it('reads the major version from --version output', () => {
    expect(parseLibgpiodVersion('gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n')).toEqual({
      major: 1,
      version: '1.6.3',
    });
    expect(parseLibgpiodVersion('gpioset (libgpiod) v2.1\n')).toEqual({ major: 2, version: '2.1' });
  });

  it('refuses versions it does not know how to drive', () => {
    expect(() => parseLibgpiodVersion('gpioset (libgpiod) v3.0.0')).toThrow(/unsupported/);
    expect(() => parseLibgpiodVersion('bash: gpioset: command not found')).toThrow(/unsupported/);
  });
});

describe('chips by label', () => {
  const listing =
    'gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip1 [gpio-brcmstb@107d517c00] (4 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n';

  it('parses gpiodetect and picks by label before name', () => {
    const chips = parseGpiodetect(listing);
    expect(chips).toHaveLength(3);
    expect(pickChip(chips, 'pinctrl-rp1')).toEqual({ name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 });
    expect(pickChip(chips, 'gpiochip1').label).toBe('gpio-brcmstb@107d517c00');
  });

  it('lists the chips present when the label is unknown', () => {
    let caught: unknown;
    try {
      pickChip(parseGpiodetect(listing), 'tegra234-gpio');
    } catch (err) {
      caught = err;
    }
    expect(isFaceedgeError(caught, 'GPIO_UNAVAILABLE')).toBe(true);
    expect((caught as { hint: string }).hint).toContain('gpiochip4 [pinctrl-rp1]');
  });
});

describe('argument lists', () => {
  it('holds and releases a line in each syntax', () => {
    expect(holdArgs(V1, LINE)).toEqual(['--mode=signal', 'gpiochip4']);
    expect(oneShotArgs(V1, { ...LINE, activeLow: true })).toEqual(['--mode=exit', '-l', 'gpiochip4']);
    expect(holdArgs(V2, LINE)).toEqual(['-c', 'gpiochip4', '-C', 'faceedge-relay']);
    expect(oneShotArgs(V2, LINE)).toEqual(['-c', 'gpiochip4', '-C', 'faceedge-relay', '-t', '0']);
  });

  it('spells bias the way each version wants it', () => {
    expect(getArgs(V1, LINE, 'disabled')).toEqual(['-B', 'disable', 'gpiochip4', '17']);
    expect(getArgs(V2, LINE, 'disabled')).toEqual(['-b', 'disabled', '-c', 'gpiochip4', '-C', 'faceedge-relay', '17']);
    expect(getArgs(V2, LINE, 'as-is')).toEqual(['-c', 'gpiochip4', '-C', 'faceedge-relay', '17']);
  });

  it('monitors both edges with a line-buffered, fixed format', () => {
    expect(monitorArgs(V1, LINE, 'pull-down')).toEqual(['-b', '-B', 'pull-down', '-F', '%e %s %n', 'gpiochip4', '17']);
    expect(monitorArgs(V2, { ...LINE, activeLow: true }, 'pull-up')).toEqual([
      '-l',
      '-b',
      'pull-up',
      '-c',
      'gpiochip4',
      '-C',
      'faceedge-relay',
      '-e',
      'both',
      '-F',
      '%e %S',
      '17',
    ]);
  });
});

describe('output parsing', () => {
  it('reads gpiomon event codes per version (v1 falling is 0, v2 falling is 2)', () => {
    expect(parseMonitorLine(V1, '1 1700000000 12')).toBe(true);
    expect(parseMonitorLine(V1, '0 1700000000 12')).toBe(false);
    expect(parseMonitorLine(V1, '2 1700000000 12')).toBeNull();
    expect(parseMonitorLine(V2, '2 1700000000.000000012')).toBe(false);
    expect(parseMonitorLine(V2, '0 1700000000.000000012')).toBeNull();
    expect(parseMonitorLine(V2, 'Monitoring line 17...')).toBeNull();
  });

  it('reads gpioget values in both formats', () => {
    expect(parseGetOutput('1\n')).toBe(true);
    expect(parseGetOutput('"17"=inactive\n')).toBe(false);
    expect(parseGetOutput('17=active')).toBe(true);
    expect(() => parseGetOutput('gpioget: error')).toThrow();
  });
});
