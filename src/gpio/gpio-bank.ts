/**
 * Every configured GPIO line, opened through one backend: the composition root builds a GpioBank from
 * the `gpio:` config slice and hands outputs/inputs to MQTT and the rules. Closing the bank (daemon
 * stop, or a reload that loses the config) puts every output in its safe state.
 */
import { readdir } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { CdevInputSource } from './cdev-input-source.js';
import { CdevLineDriver } from './cdev-line-driver.js';
import type { GpioConfig } from './gpio-config-schema.js';
import type { GpioInput, GpioInputEvent, GpioOutput, LineDriver, RawInputSource } from './gpio-types.js';
import { detectLibgpiod, parseGpiodetect, pickChip, runTool, type LibgpiodTools } from './libgpiod-tools.js';
import { LineInput } from './line-input.js';
import { LineOutput } from './line-output.js';
import { SysfsInputSource } from './sysfs-input-source.js';
import { listSysfsChips, sysfsLineNumber } from './sysfs-line.js';
import { SysfsLineDriver } from './sysfs-line-driver.js';

/**
 * Labels of the chips wired to the 40-pin header, in preference order, used when no chip is
 * configured: Raspberry Pi 5 (RP1), Pi 4, Pi 3/Zero, Jetson Orin, Xavier, Nano.
 */
export const HEADER_CHIP_LABELS = [
  'pinctrl-rp1',
  'pinctrl-bcm2711',
  'pinctrl-bcm2835',
  'tegra234-gpio',
  'tegra194-gpio',
  'tegra-gpio',
];

/** What {@link GpioBank.open} needs besides the config. */
export interface GpioBankDeps {
  /** Environment of the tools and helper processes (PATH). */
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** Every applied output change, for `gpio/<name>/state`. */
  readonly onOutputState?: (name: string, on: boolean) => void;
  /** Every debounced input edge of the configured kind. */
  readonly onInputEdge?: (event: GpioInputEvent) => void;
  /**
   * Every input value: the level read at start (`initial` true), then every debounced change whatever
   * the edge filter; for `gpio/<name>/state` and the rules' input conditions.
   */
  readonly onInputValue?: (name: string, value: boolean, initial: boolean) => void;
  /** Where to look for gpiochip devices when `backend: auto`. Default `/dev`. */
  readonly devDir?: string;
}

export type GpioBackendName = 'libgpiod' | 'sysfs' | 'none';

/** Picks the backend for `backend: auto`: the character device when it exists, else sysfs. */
export async function selectGpioBackend(
  config: GpioConfig,
  deps: Pick<GpioBankDeps, 'env' | 'devDir'>,
): Promise<GpioBackendName> {
  if (Object.keys(config.outputs).length + Object.keys(config.inputs).length === 0) return 'none';
  if (config.backend !== 'auto') return config.backend;
  const devices = await readdir(deps.devDir ?? '/dev').catch(() => [] as string[]);
  if (devices.some((d) => /^gpiochip\d+$/.test(d))) return 'libgpiod';
  const sysfs = await readdir(config.sysfs_root).catch(() => [] as string[]);
  if (sysfs.includes('export')) return 'sysfs';
  throw new FaceedgeError('GPIO_UNAVAILABLE', 'no GPIO character device and no sysfs GPIO interface found', {
    hint: 'on a board with GPIO, check that /dev/gpiochip* exists and the user is in the gpio group',
  });
}

export class GpioBank {
  readonly #outputMap = new Map<string, GpioOutput>();
  readonly #inputMap = new Map<string, GpioInput>();
  #closing: Promise<void> | null = null;

  private constructor(readonly backend: GpioBackendName) {}

  /**
   * Opens every configured line. Outputs start in their safe state. If any line fails, the ones
   * already open are closed (outputs to safe) before the error is thrown.
   */
  static async open(config: GpioConfig, deps: GpioBankDeps): Promise<GpioBank> {
    const backend = await selectGpioBackend(config, deps);
    const bank = new GpioBank(backend);
    if (backend === 'none') return bank;
    try {
      const lines = backend === 'libgpiod' ? await cdevLines(config, deps) : await sysfsLines(config, deps);
      for (const [name, out] of Object.entries(config.outputs)) {
        const driver = await lines.output(name);
        bank.#outputMap.set(
          name,
          new LineOutput(name, driver, {
            safe: out.safe === 'on',
            maxPulseMs: out.max_pulse_ms,
            onState: deps.onOutputState,
            onFailure: (n, error) => deps.log.error({ gpio: n, err: error }, 'GPIO output failed'),
          }),
        );
      }
      for (const [name, inp] of Object.entries(config.inputs)) {
        const input = await LineInput.open(name, await lines.input(name), {
          edge: inp.edge,
          debounceMs: inp.debounce_ms,
        });
        if (deps.onInputEdge) input.onEdge(deps.onInputEdge);
        const onValue = deps.onInputValue;
        if (onValue) {
          input.onChange((event) => onValue(name, event.value, false));
          onValue(name, input.value!, true);
        }
        bank.#inputMap.set(name, input);
      }
    } catch (err) {
      await bank.close().catch(() => {});
      throw err;
    }
    deps.log.info(
      { backend, outputs: [...bank.#outputMap.keys()], inputs: [...bank.#inputMap.keys()] },
      'GPIO lines open',
    );
    return bank;
  }

  /**
   * Opens every output at its safe state and releases it again: for a systemd `ExecStopPost=` hook or a
   * CLI command, so the lines end safe even when the whole service was SIGKILLed (OOM killer).
   */
  static async driveSafe(config: GpioConfig, deps: GpioBankDeps): Promise<void> {
    const bank = await GpioBank.open({ ...config, inputs: {} }, deps);
    await bank.close();
  }

  output(name: string): GpioOutput | undefined {
    return this.#outputMap.get(name);
  }

  input(name: string): GpioInput | undefined {
    return this.#inputMap.get(name);
  }

  get outputs(): readonly GpioOutput[] {
    return [...this.#outputMap.values()];
  }

  get inputs(): readonly GpioInput[] {
    return [...this.#inputMap.values()];
  }

  /** Closes inputs, then puts every output in its safe state and releases it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inputMap.values()].map((i) => i.close()));
      const results = await Promise.allSettled([...this.#outputMap.values()].map((o) => o.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }
}

/** Opens the drivers and sources of one backend by line name. */
interface LineFactory {
  output(name: string): Promise<LineDriver>;
  input(name: string): Promise<RawInputSource>;
}

function defaultChip(config: GpioConfig, labels: readonly string[]): string | undefined {
  return config.chip ?? HEADER_CHIP_LABELS.find((l) => labels.includes(l));
}

function noChip(labels: readonly string[]): FaceedgeError {
  return new FaceedgeError('CONFIG_INVALID', 'gpio.chip is not set and no known header GPIO chip was found', {
    hint: `set gpio.chip to one of: ${labels.join(', ') || '(no chips found)'}`,
  });
}

async function cdevLines(config: GpioConfig, deps: GpioBankDeps): Promise<LineFactory> {
  const tools: LibgpiodTools = await detectLibgpiod(deps.env);
  const chips = parseGpiodetect(await runTool('gpiodetect', [], deps.env));
  const fallback = defaultChip(
    config,
    chips.map((c) => c.label),
  );
  const toolLine = (name: string, spec: { chip?: string; line: number; active_low: boolean }) => {
    const label = spec.chip ?? fallback;
    if (!label) throw noChip(chips.map((c) => c.label));
    return {
      chip: pickChip(chips, label).name,
      offset: spec.line,
      activeLow: spec.active_low,
      consumer: `faceedge-${name}`,
    };
  };
  deps.log.info({ libgpiod: tools.version, interactive: tools.interactive }, 'GPIO through the libgpiod tools');
  return {
    output: async (name) => {
      const out = config.outputs[name];
      return CdevLineDriver.open({ tools, line: toolLine(name, out), safe: out.safe === 'on', env: deps.env });
    },
    input: async (name) => {
      const inp = config.inputs[name];
      return new CdevInputSource({
        tools,
        line: toolLine(name, inp),
        bias: inp.bias,
        env: deps.env,
        onProblem: (message) => deps.log.warn({ gpio: name }, message),
      });
    },
  };
}

async function sysfsLines(config: GpioConfig, deps: GpioBankDeps): Promise<LineFactory> {
  const root = config.sysfs_root;
  const labels = (await listSysfsChips(root)).map((c) => c.label);
  const fallback = defaultChip(config, labels);
  const numberOf = (spec: { chip?: string; line: number }) => {
    const label = spec.chip ?? fallback;
    if (!label) throw noChip(labels);
    return sysfsLineNumber(root, label, spec.line);
  };
  for (const [name, inp] of Object.entries(config.inputs)) {
    if (inp.bias !== 'as-is')
      deps.log.warn(
        { gpio: name, bias: inp.bias },
        'sysfs cannot set a pull resistor; set it in the board config (config.txt / device tree)',
      );
  }
  deps.log.info({ root }, 'GPIO through sysfs');
  return {
    output: async (name) => {
      const out = config.outputs[name];
      return SysfsLineDriver.open({
        root,
        number: await numberOf(out),
        activeLow: out.active_low,
        safe: out.safe === 'on',
        env: deps.env,
      });
    },
    input: async (name) => {
      const inp = config.inputs[name];
      return new SysfsInputSource({
        root,
        number: await numberOf(inp),
        activeLow: inp.active_low,
        pollMs: inp.poll_ms,
        onProblem: (message) => deps.log.warn({ gpio: name }, message),
      });
    },
  };
}
