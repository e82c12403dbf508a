/**
 * `faceedge` command line: the composition entry point. Maps FaceedgeError codes to exit status and
 * prints the hint; everything else is a bug and shows its stack.
 */
import { Command } from 'commander';
import { isFaceedgeError } from '../errors.js';
import { redactUrlsIn } from '../observability/redact-url.js';
import { registerDatasetCommands } from './commands/dataset-prepare.js';
import { registerClassifyCommand } from './commands/classify.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerRunCommand } from './commands/run.js';
import { registerConfigCommands } from './commands/config-check.js';
import { registerGpioCommands } from './commands/gpio.js';
import { registerModelCommands } from './commands/model.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerModelCalibrateCommand } from './commands/model-calibrate.js';
import { registerFacesVerifyCommand } from './commands/faces-verify.js';
import { registerTrainCommand } from './commands/train.js';
import { registerFacesGalleryCommands } from './commands/faces-gallery.js';
import { registerFacesIdentifyCommand } from './commands/faces-identify.js';
import { packageVersion } from './package-version.js';

// The one place the process environment is read; components get their slice of config.
const env = process.env;
const version = packageVersion();
const program = new Command('faceedge')
  .description('edge runtime for embedded cameras: faces → 64x64 classifier → MQTT / GPIO')
  .version(version);
registerRunCommand(program, env, version);
registerConfigCommands(program, env);
registerDatasetCommands(program);
registerClassifyCommand(program);
registerEvalCommand(program);
registerModelCommands(program);
registerModelCalibrateCommand(program.commands.find((c) => c.name() === 'model')!);
registerGpioCommands(program, env);
registerFleetCommands(program);
registerFacesGalleryCommands(program, env);
registerFacesIdentifyCommand(program, env);
registerFacesVerifyCommand(program);
registerTrainCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (isFaceedgeError(err)) {
    // A message may quote a URL the user gave (mqtt://user:password@…): never echo its password.
    console.error(redactUrlsIn(`faceedge: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`));
    // 2: the input cannot work as given (usage, config, a name, photos none of which is usable); 1: it failed.
    const inputError = ['USAGE', 'CONFIG_INVALID', 'GALLERY_NAME_INVALID', 'ENROLMENT_FAILED'].includes(err.code);
    process.exit(inputError ? 2 : 1);
  }
  throw err;
}
