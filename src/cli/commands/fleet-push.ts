/** `faceedge fleet push <model dir>`: a staged, gated, resumable rollout (src/fleet/rollout.ts). */
import type { Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import { DEFAULT_GATE } from '../../fleet/health-gate.js';
import { readModelPackage, servingFile } from '../../model-push/model-package.js';
import { planRollout } from '../../fleet/rollout-dry-run.js';
import { runRollout } from '../../fleet/rollout.js';
import type { RolloutState } from '../../fleet/rollout-state.js';
import { formatTable } from '../format-table.js';
import { headManifestSha256, isHeadPackage, pushedHeadDir } from '../../model-push/head-package.js';
import { connectionOptions, withBrokerOptions, type BrokerFlags } from './fleet-broker-options.js';

interface PushFlags extends BrokerFlags {
  name?: string;
  head?: string;
  tag?: string;
  devices?: string;
  all?: boolean;
  canary: string;
  wave: string;
  soak: string;
  baseline?: string;
  concurrency: string;
  pushTimeout: string;
  state?: string;
  minFrameRatio: string;
  minEventRatio: string;
  chunkKib: string;
  json?: boolean;
  dryRun?: boolean;
}

function number(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min)
    throw new FaceedgeError('USAGE', `${flag} must be a number ≥ ${min} (got "${value}")`);
  return n;
}

function report(state: RolloutState): string {
  const rows = Object.entries(state.boards).map(([d, b]) => [
    d,
    b.state,
    b.previous_sha256?.slice(0, 12) ?? '-',
    b.error ?? '',
  ]);
  return `${formatTable([['DEVICE', 'OUTCOME', 'PREVIOUS MODEL', 'WHY'], ...rows])}\nrollout ${state.status}${state.stop_reason ? `: ${state.stop_reason}` : ''}`;
}

export function registerFleetPushCommand(fleet: Command): void {
  withBrokerOptions(fleet.command('push <dir>'))
    .description(
      'roll a signed model package out in waves: canary first, each wave gated on health over a soak; a failed gate stops and rolls back',
    )
    .option(
      '--name <model>',
      "the board model the package replaces (classifiers[].name): pushed, gated and rolled back by name (default: each board's first model)",
    )
    .option(
      '--head <dir>',
      "the head package on the face embedding to push with the image model, as one pair (default <dir>/head if present); a board's rollback by name takes both back",
    )
    .option('--tag <tag>', 'boards whose device.tags include <tag>')
    .option('--devices <ids>', 'comma-separated device ids')
    .option('--all', 'every board on the broker')
    .option('--canary <n>', 'boards in the first wave', '1')
    .option('--wave <m>', 'boards per later wave', '10')
    .option('--soak <s>', 'seconds each wave runs on the new model before its gate', '60')
    .option(
      '--baseline <s>',
      "seconds of each board's own frames and events measured just before its push (default: --soak)",
    )
    .option('--concurrency <n>', 'pushes in flight at once', '4')
    .option('--push-timeout <s>', "one board's push, its retries included, gives up after this many seconds", '300')
    .option(
      '--state <file>',
      'rollout state file (rerun the same command to resume); default ./faceedge-rollout-[<name>-]<sha256[:12]>[-head-<head manifest sha256[:12]>].json',
    )
    .option(
      '--min-frame-ratio <r>',
      "a board's frames/s after its switch over its own frames/s just before its push must reach this",
      String(DEFAULT_GATE.minFrameRatio),
    )
    .option('--min-event-ratio <r>', 'the same for events/s (0: not gated)', String(DEFAULT_GATE.minEventRatio))
    .option('--chunk-kib <n>', 'MQTT chunk size, KiB', '64')
    .option('--json', 'print the final rollout state as JSON')
    .option('--dry-run', 'print the waves and what each board would get, then stop (nothing is pushed or written)')
    .action(async (dir: string, f: PushFlags) => {
      if (await isHeadPackage(dir))
        throw new FaceedgeError('USAGE', `${dir} is a head package: a fleet push takes the image model's`, {
          hint: `faceedge fleet push <image model pkg> --head ${dir} --name <model> (the pair, one version on each board)`,
        });
      const sha = servingFile(await readModelPackage(dir)).sha256;
      const headDir = pushedHeadDir(dir, f.head);
      const headSha = headDir === null ? null : await headManifestSha256(headDir);
      const devices = f.devices
        ?.split(',')
        .map((d) => d.trim())
        .filter((d) => d !== '');
      if (f.dryRun) {
        const plan = await planRollout({
          ...connectionOptions(f),
          packageDir: dir,
          name: f.name,
          head: f.head,
          selector: { tag: f.tag, devices, all: f.all },
          canary: number('--canary', f.canary, 0),
          wave: number('--wave', f.wave, 1),
        });
        if (f.json) console.log(JSON.stringify(plan, null, 2));
        else {
          const rows = plan.boards.map((b) => [
            String(b.wave),
            b.device,
            b.online === null ? '?' : b.online ? 'online' : 'OFFLINE',
            b.sha256?.slice(0, 12) ?? '-',
            b.action,
          ]);
          console.log(
            `${formatTable([['WAVE', 'DEVICE', 'STATE', 'SERVES', 'ACTION'], ...rows])}\n${plan.package.id} (${plan.package.sha256.slice(0, 12)}…): ${plan.boards.filter((b) => b.action === 'push').length} to push, ${plan.boards.filter((b) => b.action === 'skip').length} already on it, ${plan.boards.filter((b) => b.action === 'offline').length} offline`,
          );
        }
        return;
      }
      const result = await runRollout({
        ...connectionOptions(f),
        packageDir: dir,
        name: f.name,
        head: f.head,
        selector: { tag: f.tag, devices, all: f.all },
        canary: number('--canary', f.canary, 0),
        wave: number('--wave', f.wave, 1),
        soakS: number('--soak', f.soak, 0),
        baselineS: f.baseline === undefined ? undefined : number('--baseline', f.baseline, 0),
        concurrency: number('--concurrency', f.concurrency, 1),
        pushTimeoutS: number('--push-timeout', f.pushTimeout, 1),
        // One state per model and package (and head): the same package to another model, or with another head, is
        // another rollout.
        statePath:
          f.state ??
          `faceedge-rollout-${f.name === undefined ? '' : `${f.name}-`}${sha.slice(0, 12)}${headSha === null ? '' : `-head-${headSha.slice(0, 12)}`}.json`,
        thresholds: {
          ...DEFAULT_GATE,
          minFrameRatio: number('--min-frame-ratio', f.minFrameRatio, 0),
          minEventRatio: number('--min-event-ratio', f.minEventRatio, 0),
        },
        chunkSize: number('--chunk-kib', f.chunkKib, 1) * 1024,
        log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
      });
      console.log(f.json ? JSON.stringify(result.state, null, 2) : report(result.state));
      if (!result.ok)
        throw new FaceedgeError('ROLLOUT_STOPPED', `rollout stopped: ${result.state.stop_reason}`, {
          hint: "the table above has each board's outcome",
        });
    });
}
