/**
 * `faceedge fleet …`: the operator's view of many boards on one broker (cluster). `status` reads the
 * boards' retained topics, `push` rolls a model out in gated waves, `credentials` writes per-board
 * broker accounts and ACLs, `bridge-config` a site broker's bridge to the central one.
 */
import type { Command } from 'commander';
import { formatFleetStatus } from '../fleet-status-format.js';
import { fleetStatus, watchFleet } from '../../fleet/fleet-status.js';
import { connectionOptions, withBrokerOptions, type BrokerFlags } from './fleet-broker-options.js';
import { registerFleetPushCommand } from './fleet-push.js';
import { registerFleetPushGalleryCommand } from './fleet-push-gallery.js';
import { registerFleetSetupCommands } from './fleet-setup.js';

export function registerFleetCommands(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('many boards on one broker: status, staged model rollout, credentials, bridges');

  withBrokerOptions(fleet.command('status'))
    .description('one row per board from its retained topics: online since, version, model, delegate, tags, cameras')
    .option('--json', 'print {"boards":[…]} (with --watch: one JSON line per changed board)')
    .option('--watch', 'keep following changes until Ctrl-C')
    .action(async (f: BrokerFlags & { json?: boolean; watch?: boolean }) => {
      const o = connectionOptions(f);
      if (!f.watch) {
        const doc = await fleetStatus(o);
        console.log(f.json ? JSON.stringify(doc, null, 2) : formatFleetStatus(doc.boards));
        return;
      }
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await watchFleet({
        ...o,
        signal: abort.signal,
        onSnapshot: (boards) => console.log(f.json ? JSON.stringify({ boards }) : formatFleetStatus(boards)),
        onChange: (changed, all) => {
          if (f.json) for (const b of changed) console.log(JSON.stringify(b));
          else
            console.log(
              `\n${new Date().toISOString()} changed: ${changed.map((b) => b.device).join(', ')}\n${formatFleetStatus(all)}`,
            );
        },
      });
    });

  registerFleetPushCommand(fleet);
  registerFleetPushGalleryCommand(fleet);
  registerFleetSetupCommands(fleet);
}
