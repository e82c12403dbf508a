/**
 * Whether a listen address keeps a server on the board itself: the one rule behind "the embedded broker stays
 * on loopback unless it has a login" (the config refuses the open case, src/config/config-schema.ts).
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * True for `localhost`, any 127.0.0.0/8 address, `::1` (however spelled) and an IPv4-mapped 127.x address.
 * False for everything else, wildcards (`0.0.0.0`, `::`) and host names included: a name may resolve anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false;
  const mapped = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return isIPv4(mapped[1]) && mapped[1].startsWith('127.');
  // Expand `::` and compare the eight groups with ::1's.
  const [head, tail] = h.includes('::') ? h.split('::') : [h, undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].map((g) =>
    parseInt(g, 16),
  );
  return groups.length === 8 && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}
