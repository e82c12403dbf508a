/** Which boards a rollout targets and in which waves: a canary first, then waves of a fixed size. */
import { FaceedgeError } from '../errors.js';
import { modelOf, type BoardRow } from './fleet-view.js';

/** Exactly one of the three. */
export interface TargetSelector {
  readonly tag?: string;
  readonly devices?: readonly string[];
  readonly all?: boolean;
}

/**
 * Device ids selected from the boards seen on the broker: `devices` in the given order (the operator
 * picks the canaries), a tag or all sorted by id (so reruns plan the same waves).
 * Named devices that were never seen are an error: a typo must not shrink a rollout silently.
 */
export function selectTargets(boards: readonly BoardRow[], s: TargetSelector): string[] {
  const given = [s.tag !== undefined, s.devices !== undefined, s.all === true].filter(Boolean).length;
  if (given !== 1)
    throw new FaceedgeError('USAGE', 'choose the boards with exactly one of --tag <t>, --devices a,b,… or --all');
  const known = new Set(boards.map((b) => b.device));
  if (s.devices) {
    const unknown = s.devices.filter((d) => !known.has(d));
    if (unknown.length > 0) {
      throw new FaceedgeError('USAGE', `unknown device(s): ${unknown.join(', ')}`, {
        hint: 'faceedge fleet status lists the boards this broker knows',
      });
    }
    return [...new Set(s.devices)]; // the operator's order: the first ones are the canaries
  }
  const picked = s.all ? boards : boards.filter((b) => b.tags.includes(s.tag!));
  if (picked.length === 0)
    throw new FaceedgeError('USAGE', s.all ? 'no boards on this broker' : `no board has the tag "${s.tag}"`);
  return picked.map((b) => b.device).sort();
}

/** `[canary], [wave], [wave], …`; `canary` 0 starts with a normal wave. */
export function planWaves(devices: readonly string[], canary: number, wave: number): string[][] {
  if (!Number.isInteger(canary) || canary < 0) throw new FaceedgeError('USAGE', '--canary must be an integer ≥ 0');
  if (!Number.isInteger(wave) || wave < 1) throw new FaceedgeError('USAGE', '--wave must be an integer ≥ 1');
  const waves: string[][] = [];
  if (canary > 0) waves.push(devices.slice(0, canary));
  for (let i = Math.min(canary, devices.length); i < devices.length; i += wave) waves.push(devices.slice(i, i + wave));
  return waves.filter((w) => w.length > 0);
}

/**
 * With `fleet push --name`: every selected board must report a model of that name in its bridge/info, else
 * USAGE naming them. A typo in the name, or a board configured without that model (or from before model names),
 * must stop the rollout before any push rather than be refused board by board.
 */
export function requireNamedModel(boards: readonly BoardRow[], devices: readonly string[], name?: string): void {
  if (name === undefined) return;
  const lacking = devices.filter(
    (d) =>
      modelOf(
        boards.find((b) => b.device === d),
        name,
      ) === null,
  );
  if (lacking.length > 0) {
    throw new FaceedgeError('USAGE', `no model named "${name}" on ${lacking.join(', ')}`, {
      hint: "fleet status --json lists each board's models by name (classifiers[].name in its config)",
    });
  }
}
