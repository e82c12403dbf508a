/**
 * CPU temperature from the kernel's thermal zones (Raspberry Pi `cpu-thermal`, Jetson `CPU-therm`),
 * for the `stats` topic. Boards without /sys/class/thermal (containers, most x86 VMs) report null.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Default root of the thermal zones. */
export const THERMAL_ROOT = '/sys/class/thermal';

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The CPU temperature in °C, or null when no thermal zone is readable. Prefers a zone whose type
 * names the CPU/SoC; otherwise the first readable zone (on a Pi it is the SoC sensor).
 * @param root directory holding `thermal_zone*` (tests point it at a fixture). Default `/sys/class/thermal`.
 */
export function readCpuTemperatureC(root: string = THERMAL_ROOT): number | null {
  let zones: string[];
  try {
    zones = readdirSync(root)
      .filter((name) => name.startsWith('thermal_zone'))
      .sort();
  } catch {
    return null;
  }
  const readings: { type: string; celsius: number }[] = [];
  for (const zone of zones) {
    const raw = readTrimmed(join(root, zone, 'temp'));
    // The kernel reports millidegrees Celsius.
    const milli = raw === null ? NaN : Number(raw);
    if (!Number.isFinite(milli)) continue;
    readings.push({
      type: (readTrimmed(join(root, zone, 'type')) ?? '').toLowerCase(),
      celsius: Math.round(milli / 100) / 10,
    });
  }
  const cpu = readings.find((r) => /cpu|soc|x86_pkg/.test(r.type));
  return (cpu ?? readings[0])?.celsius ?? null;
}
