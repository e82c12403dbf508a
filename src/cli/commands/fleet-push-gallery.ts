/** `faceedge fleet push-gallery <package.json>`: a signed gallery to the boards of a site (src/fleet/gallery-fleet-push.ts). */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import { pushGalleryToFleet } from '../../fleet/gallery-fleet-push.js';
import type { GalleryPackageJson } from '../../model-push/gallery-package.js';
import { formatTable } from '../format-table.js';
import { connectionOptions, withBrokerOptions, type BrokerFlags } from './fleet-broker-options.js';

interface PushGalleryFlags extends BrokerFlags {
  tag?: string;
  devices?: string;
  all?: boolean;
  json?: boolean;
}

export function registerFleetPushGalleryCommand(fleet: Command): void {
  withBrokerOptions(fleet.command('push-gallery <package>'))
    .description(
      'send a signed gallery (faceedge faces package) to boards: each verifies it, refuses an older one, and merges it into its own',
    )
    .option('--tag <tag>', 'boards whose device.tags include <tag>')
    .option('--devices <ids>', 'comma-separated device ids')
    .option('--all', 'every board on the broker')
    .option('--json', 'one JSON array of outcomes')
    .action(async (file: string, f: PushGalleryFlags) => {
      let pkg: GalleryPackageJson;
      try {
        pkg = JSON.parse(await readFile(file, 'utf8')) as GalleryPackageJson;
      } catch (cause) {
        throw new FaceedgeError('USAGE', `cannot read the gallery package ${file}: ${(cause as Error).message}`, {
          hint: 'faceedge faces package <gallery> --key <file> --sign-key <pem> --out <file> writes one',
          cause,
        });
      }
      const devices = f.devices
        ?.split(',')
        .map((d) => d.trim())
        .filter((d) => d !== '');
      const rows = await pushGalleryToFleet({
        ...connectionOptions(f),
        selector: { tag: f.tag, devices, all: f.all },
        pkg,
      });
      if (f.json) console.log(JSON.stringify(rows));
      else
        console.log(
          formatTable([
            ['DEVICE', 'OUTCOME', 'VERSION', 'PEOPLE', 'WHY'],
            ...rows.map((r) => [
              r.device,
              r.merged ? 'merged' : 'REFUSED',
              String(r.version ?? '-'),
              String(r.people ?? '-'),
              r.error ?? '',
            ]),
          ]),
        );
      const refused = rows.filter((r) => !r.merged).length;
      if (refused > 0)
        throw new FaceedgeError('ROLLOUT_STOPPED', `${refused} of ${rows.length} boards did not merge the gallery`, {
          hint: 'the table above says why; push again once fixed (a merge is idempotent)',
        });
    });
}
