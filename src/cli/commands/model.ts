/**
 * `faceedge model …`: keygen and sign on the workstation; install, rollback and list on the board;
 * push from the workstation to a board over SSH or MQTT. Every install path runs the same checks
 * (src/model-push/install-model.ts) and leaves the serving model alone when one fails.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PUBLIC_KEY } from '../../config/board-config-schema.js';
import { FaceedgeError, isFaceedgeError } from '../../errors.js';
import { installModel, rollbackModel, verifyModelPackage, type InstallReport } from '../../model-push/install-model.js';
import { MANIFEST_FILE, SIGNATURE_FILE, readModelPackage, verifyPackageFiles } from '../../model-push/model-package.js';
import {
  generateSigningKeyPair,
  loadPrivateKey,
  readPublicKeys,
  signManifest,
} from '../../model-push/model-signature.js';
import { ModelStore } from '../../model-push/model-store.js';
import { pushModelOverMqtt } from '../../model-push/mqtt-push-sender.js';
import { openPackageSource } from '../../model-push/package-source.js';
import { pushModelOverSsh } from '../../model-push/ssh-push.js';
import { hasHead, isHeadPackage } from '../../model-push/head-package.js';
import { DEFAULT_BASE_TOPIC } from '../../mqtt/mqtt-topics.js';

/** The systemd unit's StateDirectory + `/models`: what the daemon's `models.dir` defaults to there. */
export const DEFAULT_MODELS_DIR = '/var/lib/faceedge/models';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface TrustFlags {
  publicKey?: string[];
  allowUnsigned?: boolean;
}

async function trustOptions(flags: TrustFlags) {
  const paths = flags.publicKey ?? (existsSync(DEFAULT_PUBLIC_KEY) ? [DEFAULT_PUBLIC_KEY] : []);
  return { trustedKeys: await readPublicKeys(paths), requireSignature: !flags.allowUnsigned };
}

function installSummary(report: InstallReport) {
  const { current, previous, unchanged } = report.activation;
  return {
    status: 'ok' as const,
    model: { id: current.manifest.id, version: current.name, path: current.modelPath, manifest: current.manifestPath },
    previous: previous?.name ?? null,
    unchanged,
    signed_by: report.signedBy,
    head: report.head && { id: report.head.id, signed_by: report.head.signedBy },
    selftest: report.selfTests.map((t) => ({
      file: t.modelPath.split('/').at(-1),
      cases: t.cases,
      max_error: t.maxError,
      tolerance: t.tolerance,
    })),
  };
}

export function registerModelCommands(program: Command): void {
  const model = program
    .command('model')
    .description('sign, install, roll back and push classifier packages (manifest.json + .tflite files)');
  registerSigningCommands(model);
  registerBoardCommands(model);
  registerPushCommand(model);
}

/** `keygen`, `sign` and `verify`: the workstation signs what the boards trust. */
function registerSigningCommands(model: Command): void {
  model
    .command('keygen')
    .description(
      'create an ed25519 signing key pair: <prefix>.key.pem (keep it on the workstation) and <prefix>.pub.pem (for the boards)',
    )
    .option('--out <prefix>', 'file name prefix', 'faceedge-model-signing')
    .action(async (flags: { out: string }) => {
      const [keyPath, pubPath] = [`${flags.out}.key.pem`, `${flags.out}.pub.pem`];
      if (existsSync(keyPath))
        throw new FaceedgeError('USAGE', `${keyPath} already exists`, {
          hint: 'refusing to overwrite a signing key; pick another --out',
        });
      const pair = generateSigningKeyPair();
      await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
      await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644 });
      console.log(
        `key ${pair.keyId}: private ${keyPath}, public ${pubPath} (copy it to the board as ${DEFAULT_PUBLIC_KEY})`,
      );
    });

  model
    .command('sign <dir>')
    .description("write <dir>/manifest.sig: an ed25519 signature over manifest.json, which lists every file's sha256")
    .requiredOption('--key <pem>', 'ed25519 private key (faceedge model keygen)')
    .action(async (dir: string, flags: { key: string }) => {
      const pkg = await readModelPackage(dir);
      await verifyPackageFiles(pkg); // never sign a manifest that does not describe the files next to it
      const key = loadPrivateKey(
        await readFile(flags.key).catch((cause: Error) => {
          throw new FaceedgeError('USAGE', `cannot read key ${flags.key}: ${cause.message}`, { cause });
        }),
        flags.key,
      );
      const text = signManifest(pkg.manifestBytes, key);
      await writeFile(join(dir, SIGNATURE_FILE), text);
      console.log(`signed ${join(dir, MANIFEST_FILE)} (${pkg.files.length} files) with key ${JSON.parse(text).key_id}`);
    });

  model
    .command('verify <dir>')
    .description('run every install check (sha256, signature, self-test) without installing')
    .option('--public-key <pem>', `trusted public key, repeatable (default ${DEFAULT_PUBLIC_KEY})`, collect)
    .option('--allow-unsigned', 'accept a package without manifest.sig')
    .action(async (dir: string, flags: TrustFlags) => {
      const v = await verifyModelPackage(dir, await trustOptions(flags));
      console.log(
        `${v.pkg.manifest.id}: ${v.pkg.files.length} files ok, signed by ${v.signedBy ?? '(unsigned)'}, self-test ${v.selfTests.map((t) => `${t.cases} cases max |Δp| ${t.maxError.toFixed(5)}`).join('; ')}${v.head ? `; head ${v.head.id} ok (labels, pairing, self-test), signed by ${v.head.signedBy ?? '(unsigned)'}` : ''}`,
      );
    });
}

/** `install`, `rollback` and `list`: the model store of the board the command runs on. */
function registerBoardCommands(model: Command): void {
  model
    .command('install <package>')
    .option(
      '--head <dir>',
      'a head package to install with the image model, as one pair (default <package>/head if present)',
    )
    .description('verify a package (folder or .tar.gz) and make it the serving model; the old one is kept for rollback')
    .option('--models-dir <dir>', 'model store on this board', DEFAULT_MODELS_DIR)
    .option('--public-key <pem>', `trusted public key, repeatable (default ${DEFAULT_PUBLIC_KEY})`, collect)
    .option('--allow-unsigned', 'accept a package without manifest.sig (development boards only)')
    .option('--json', 'print one JSON line (status ok|error) instead of text; used by model push over SSH')
    .action(async (path: string, flags: TrustFlags & { modelsDir: string; json?: boolean; head?: string }) => {
      try {
        const source = await openPackageSource(path);
        try {
          const summary = installSummary(
            await installModel(new ModelStore(flags.modelsDir), source.dir, await trustOptions(flags), flags.head),
          );
          if (flags.json) console.log(JSON.stringify(summary));
          else
            console.log(
              summary.unchanged
                ? `${summary.model.version} is already the current model`
                : `installed ${summary.model.version}${summary.previous ? ` (previous: ${summary.previous}, faceedge model rollback restores it)` : ''}`,
            );
        } finally {
          await source.dispose();
        }
      } catch (err) {
        if (!flags.json || !isFaceedgeError(err)) throw err;
        console.log(
          JSON.stringify({
            status: 'error',
            error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
          }),
        );
        process.exitCode = 1;
      }
    });

  model
    .command('rollback')
    .description('make the previous model current again (after re-checking it); a second rollback undoes the first')
    .option('--models-dir <dir>', 'model store on this board', DEFAULT_MODELS_DIR)
    .action(async (flags: { modelsDir: string }) => {
      const a = await rollbackModel(new ModelStore(flags.modelsDir));
      console.log(`current: ${a.current.name} (previous: ${a.previous?.name ?? 'none'})`);
    });

  model
    .command('list')
    .description('show the current and previous models')
    .option('--models-dir <dir>', 'model store on this board', DEFAULT_MODELS_DIR)
    .action(async (flags: { modelsDir: string }) => {
      const store = new ModelStore(flags.modelsDir);
      const [cur, prev] = [await store.current(), await store.previous()];
      const head = (m: typeof cur) => (m?.head ? ` with head ${m.head.modelPath}` : '');
      console.log(
        `current:  ${cur ? `${cur.name} (${cur.modelPath})${head(cur)}` : 'none'}\nprevious: ${prev ? `${prev.name}${head(prev)}` : 'none'}`,
      );
    });
}

/** `push`: a package from the workstation to a board, over SSH or MQTT. */
function registerPushCommand(model: Command): void {
  model
    .command('push <dir> [host]')
    .description(
      'send a package to a board: over SSH to [host], or over MQTT with --mqtt and --device. A pair (an image model and its head on the face embedding) travels as one package: --head <head pkg>, or a head/ folder inside <dir>; a head package as <dir> is pushed alone, beside the image model the board serves',
    )
    .option('--mqtt <url>', 'broker the board is connected to')
    .option('--device <id>', "the board's device id (faceedge/<id>/…)")
    .option('--base-topic <topic>', 'MQTT base topic', DEFAULT_BASE_TOPIC)
    .option('--name <model>', "MQTT: the board's model to install into (classifiers[].name; default: its first)")
    .option(
      '--head <dir>',
      'MQTT: the head package to install with the image model in <dir>, as one pair (default <dir>/head if present)',
    )
    .option('--chunk-kib <n>', 'MQTT chunk size, KiB', '64')
    .option('--ssh-option <opt>', 'ssh/scp -o option, repeatable (e.g. Port=2222)', collect)
    .option('--ssh <cmd>', 'ssh client', 'ssh')
    .option('--scp <cmd>', 'scp client', 'scp')
    .option('--remote-command <cmd>', 'faceedge on the board (e.g. "sudo -u faceedge faceedge")', 'faceedge')
    .option('--remote-models-dir <dir>', 'model store on the board')
    .action(
      async (
        dir: string,
        host: string | undefined,
        f: {
          mqtt?: string;
          device?: string;
          baseTopic: string;
          name?: string;
          head?: string;
          chunkKib: string;
          sshOption?: string[];
          ssh: string;
          scp: string;
          remoteCommand: string;
          remoteModelsDir?: string;
        },
      ) => {
        if (f.mqtt) {
          if (!f.device) throw new FaceedgeError('USAGE', '--mqtt needs --device <id>');
          const chunkKib = Number(f.chunkKib);
          if (!Number.isInteger(chunkKib) || chunkKib < 1 || chunkKib > 1024)
            throw new FaceedgeError('USAGE', '--chunk-kib must be an integer in 1…1024');
          let last = 0;
          const r = await pushModelOverMqtt({
            dir,
            url: f.mqtt,
            deviceId: f.device,
            name: f.name,
            head: f.head,
            baseTopic: f.baseTopic,
            chunkSize: chunkKib * 1024,
            onProgress: (p) => {
              if (p.sent - last < 16 && p.missing > 0) return;
              last = p.sent;
              process.stderr.write(`\rsent ${p.sent} chunks, ${p.missing} to go   `);
            },
          });
          process.stderr.write('\n');
          const m = r.status.model!;
          const head = m.head ? ` with head ${m.head.id}` : '';
          console.log(
            `${f.device}: installed ${m.version}${head}${m.unchanged ? ' (already current)' : ''}; sent ${r.chunksSent}/${r.totalChunks} chunks`,
          );
          return;
        }
        if (!host) throw new FaceedgeError('USAGE', 'model push needs a <host> (SSH) or --mqtt <url> --device <id>');
        if (f.head !== undefined || hasHead(dir) || (await isHeadPackage(dir)))
          throw new FaceedgeError('USAGE', 'a head on the embedding travels over MQTT only', {
            hint: 'push the pair with --mqtt <url> --device <id> --name <model> (SSH copies the image model package alone)',
          });
        if (f.name !== undefined)
          throw new FaceedgeError('USAGE', '--name is for --mqtt pushes', {
            hint: "over SSH, name the model's store: --remote-models-dir <models.dir>/<name> (the first model's is models.dir)",
          });
        const { report } = await pushModelOverSsh({
          dir,
          host,
          ssh: f.ssh,
          scp: f.scp,
          sshOptions: f.sshOption,
          remoteCommand: f.remoteCommand,
          remoteModelsDir: f.remoteModelsDir,
        });
        const m = report.model as { version: string };
        console.log(`${host}: installed ${m.version}${report.unchanged ? ' (already current)' : ''}`);
      },
    );
}
