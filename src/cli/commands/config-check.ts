import type { Command } from 'commander';
import { checkConfig } from '../../config/check-config.js';
import { redactConfig } from '../../config/redact-config.js';
import { FaceedgeError } from '../../errors.js';

export function registerConfigCommands(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('config')
    .description('configuration tools')
    .command('check')
    .description('validate a configuration file (plus FACEEDGE_* overrides) and list every problem')
    .argument('[file]', 'YAML configuration file')
    .option('--print', 'print the resulting configuration (secrets redacted)')
    .action((file: string | undefined, opts: { print?: boolean }) => {
      const result = checkConfig(file, env);
      for (const warning of result.warnings) console.error(`WARNING: ${warning}`);
      if (!result.ok) {
        throw new FaceedgeError(
          'CONFIG_INVALID',
          `${file ?? 'configuration'} has ${result.errors.length} problem(s):\n  ${result.errors.join('\n  ')}`,
        );
      }
      console.log(`${file ?? 'configuration'}: ok`);
      if (opts.print) console.log(JSON.stringify(redactConfig(result.config!), null, 2));
    });
}
