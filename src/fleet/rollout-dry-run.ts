/** `faceedge fleet push --dry-run`: what a rollout would do now, without pushing or writing state. */
import { FleetConnection } from './fleet-connection.js';
import { modelOf } from './fleet-view.js';
import { planWaves, requireNamedModel, selectTargets } from './rollout-plan.js';
import { rolloutPackage, type RolloutOptions } from './rollout.js';
import type { RolloutState } from './rollout-state.js';

/** One board in a `--dry-run` plan. */
export interface PlannedBoard {
  readonly device: string;
  /** 1-based wave number (wave 1 is the canary when `canary` > 0). */
  readonly wave: number;
  readonly online: boolean | null;
  /** sha256 of the model the rollout addresses (the named one, else the first), as its bridge/info says. */
  readonly sha256: string | null;
  /**
   * `push`, `skip` (already serves the package; never with a head: only the board can tell whether it has that
   * very pair, and answers `unchanged` to the push) or `offline` (would stop the rollout).
   */
  readonly action: 'push' | 'skip' | 'offline';
}

/** What `runRollout` would do now, without pushing or writing state (`faceedge fleet push --dry-run`). */
export async function planRollout(
  o: Omit<RolloutOptions, 'statePath' | 'soakS'>,
): Promise<{ package: RolloutState['package']; boards: PlannedBoard[] }> {
  const target = await rolloutPackage(o);
  const fleet = await FleetConnection.open(o);
  try {
    await fleet.settle();
    const devices = selectTargets(fleet.view.boards(), o.selector);
    requireNamedModel(fleet.view.boards(), devices, o.name);
    const waves = planWaves(devices, o.canary ?? 1, o.wave ?? 10);
    const boards = waves.flatMap((wave, i) =>
      wave.map((device): PlannedBoard => {
        const row = fleet.view.board(device);
        const sha256 = modelOf(row, o.name)?.sha256 ?? null;
        return {
          device,
          wave: i + 1,
          online: row?.online ?? null,
          sha256,
          action:
            sha256 === target.sha256 && target.head === undefined ? 'skip' : row?.online === true ? 'push' : 'offline',
        };
      }),
    );
    return { package: target, boards };
  } finally {
    await fleet.close();
  }
}
