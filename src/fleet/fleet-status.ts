/**
 * `faceedge fleet status`: what the boards' retained topics say, read once (`fleetStatus`) or followed
 * (`watchFleet`). Nothing is asked of the boards: a retained snapshot costs the broker one message per
 * topic, and boards that are offline still show their last known state.
 */
import { FleetConnection, type FleetConnectionOptions } from './fleet-connection.js';
import type { BoardRow } from './fleet-view.js';

/** The `--json` document. */
export interface FleetStatusDocument {
  readonly boards: readonly BoardRow[];
}

/** Connects, collects every board's retained status until the broker goes quiet, disconnects. */
export async function fleetStatus(
  o: FleetConnectionOptions & { quietMs?: number; maxMs?: number },
): Promise<FleetStatusDocument> {
  const fleet = await FleetConnection.open(o);
  try {
    await fleet.settle(o.quietMs, o.maxMs);
    return { boards: fleet.view.boards() };
  } finally {
    await fleet.close();
  }
}

/**
 * Follows the fleet until `signal` aborts: `onSnapshot` first with every board, then `onChange` with
 * the boards that changed, at most every `intervalMs` (default 500).
 */
export async function watchFleet(
  o: FleetConnectionOptions & {
    signal: AbortSignal;
    intervalMs?: number;
    onSnapshot: (boards: readonly BoardRow[]) => void;
    onChange: (changed: readonly BoardRow[], all: readonly BoardRow[]) => void;
  },
): Promise<void> {
  const fleet = await FleetConnection.open(o);
  try {
    await fleet.settle();
    o.onSnapshot(fleet.view.boards());
    const changed = new Set<string>();
    const off = fleet.onChange((d) => changed.add(d));
    const timer = setInterval(() => {
      if (changed.size === 0) return;
      const rows = [...changed]
        .sort()
        .map((d) => fleet.view.board(d)!)
        .filter(Boolean);
      changed.clear();
      o.onChange(rows, fleet.view.boards());
    }, o.intervalMs ?? 500);
    await new Promise<void>((resolve) =>
      o.signal.aborted ? resolve() : o.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    clearInterval(timer);
    off();
  } finally {
    await fleet.close();
  }
}
