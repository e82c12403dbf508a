/**
 * `faceedge gpio safe`: drives every configured GPIO output to its declared fail-safe state and releases
 * it. systemd runs it as the unit's ExecStopPost=, after the daemon's whole control group is gone —
 * so even when the OOM killer SIGKILLed the daemon and its line holders together, nothing is left to
 * hold a relay open. Harmless while the daemon is stopped; refused (line busy) while it runs.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { GpioBank } from '../../gpio/gpio-bank.js';
import { componentLogger, createLogger } from '../../observability/logger.js';

export function registerGpioCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const gpio = program.command('gpio').description('GPIO lines of the configuration');
  gpio
    .command('safe')
    .description(
      "drive every configured output to its fail-safe state and release it (the systemd unit's ExecStopPost)",
    )
    .option('-c, --config <file>', 'YAML configuration file')
    .action(async (flags: { config?: string }) => {
      const config = loadConfig({ file: flags.config, env });
      const outputs = Object.entries(config.gpio.outputs);
      if (outputs.length === 0) {
        console.log('no GPIO outputs configured: nothing to do');
        return;
      }
      const log = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level });
      await GpioBank.driveSafe(config.gpio, { env, log: componentLogger(log, 'gpio') });
      console.log(`outputs in their safe state: ${outputs.map(([name, o]) => `${name}=${o.safe}`).join(', ')}`);
    });
}
