/**
 * `faceedge fleet push-gallery`: a signed gallery package (src/model-push/gallery-package.ts) sent to the
 * boards of a site as the operator's `faces/merge` request, a few boards at a time. Each board verifies,
 * checks its rollback floor and merges (src/model-push/gallery-push.ts) and answers; a board that refuses
 * or does not answer is reported, and the others still get the gallery. Unlike a model there is nothing to
 * gate or roll back: a merge only adds newer changes, and a board that missed one gets it from the next push.
 */
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { isFaceedgeError } from '../errors.js';
import type { GalleryPackageJson } from '../model-push/gallery-package.js';
import { FleetConnection, type FleetConnectionOptions } from './fleet-connection.js';
import { selectTargets, type TargetSelector } from './rollout-plan.js';

/** How long one board may take to verify and merge, ms. */
export const GALLERY_PUSH_TIMEOUT_MS = 60_000;

export interface GalleryFleetPushOptions extends FleetConnectionOptions {
  readonly selector: TargetSelector;
  readonly pkg: GalleryPackageJson;
  /** Boards asked at once. Default 4. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

/** One board's outcome: merged (with its gallery's version and people after), or why not. */
export interface GalleryPushRow {
  readonly device: string;
  readonly merged: boolean;
  readonly version?: number;
  readonly people?: number;
  /** The board's error code and message, or the timeout. */
  readonly error?: string;
}

export async function pushGalleryToFleet(o: GalleryFleetPushOptions): Promise<GalleryPushRow[]> {
  const fleet = await FleetConnection.open(o);
  try {
    await fleet.settle();
    const devices = selectTargets(fleet.view.boards(), o.selector);
    return await mapWithLimit(devices, o.concurrency ?? 4, async (device): Promise<GalleryPushRow> => {
      try {
        const r = await fleet.request(device, 'faces/merge', { ...o.pkg }, o.timeoutMs ?? GALLERY_PUSH_TIMEOUT_MS);
        if (r.status === 'ok') {
          const data = r.data as { version: number; people: number };
          return { device, merged: true, version: data.version, people: data.people };
        }
        return { device, merged: false, error: `${(r.data as { code?: string }).code ?? 'ERROR'}: ${r.error ?? ''}` };
      } catch (err) {
        if (!isFaceedgeError(err)) throw err;
        return { device, merged: false, error: `${err.code}: ${err.message}` };
      }
    });
  } finally {
    await fleet.close();
  }
}
