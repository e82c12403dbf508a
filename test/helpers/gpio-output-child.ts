/**
 * Child process for fail-safe tests: opens a GpioBank from the `gpio:` config given as JSON, applies one
 * action, prints `READY` and waits to be killed (SIGKILL: no cleanup of its own runs).
 *
 *   node --import tsx test/helpers/gpio-output-child.ts '{"gpio":{…},"output":"relay","pulseMs":60000}'
 *   node --import tsx test/helpers/gpio-output-child.ts '{"gpio":{…},"output":"relay","on":false}'
 */
import { GpioBank } from '../../src/gpio/gpio-bank.js';
import { gpioSchema } from '../../src/gpio/gpio-config-schema.js';
import { silentLogger } from '../../src/observability/logger.js';

interface ChildArgs {
  gpio: unknown;
  output: string;
  pulseMs?: number;
  on?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const bank = await GpioBank.open(gpioSchema.parse(args.gpio), { env: process.env, log: silentLogger() });
const output = bank.output(args.output)!;
if (args.pulseMs !== undefined) await output.pulse(args.pulseMs);
else await output.set(args.on ?? true);
process.stdout.write('READY\n');
setInterval(() => {}, 1 << 30);
