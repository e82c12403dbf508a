/**
 * systemd/faceedge.service: `systemd-analyze verify` (ExecStart pointed at an executable stand-in,
 * since /opt/faceedge is not installed here) and the offline security exposure (target ≤ 2.5).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

const UNIT = join(REPO_ROOT, 'systemd/faceedge.service');
const EXEC_START = /^ExecStart=\/opt\/faceedge\/current\/bin\/faceedge\.js /m;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const NO_ANALYZE = analyze.status !== 0 ? 'systemd-analyze is not installed (Debian package: systemd)' : '';
/** `security --offline` arrived in systemd 250 (Debian 12 has 252; Ubuntu 22.04 has 249). */
const SYSTEMD_VERSION = Number(/systemd (\d+)/.exec(analyze.stdout ?? '')?.[1] ?? 0);
const NO_OFFLINE_SECURITY =
  NO_ANALYZE ||
  (SYSTEMD_VERSION < 250 ? `systemd ${SYSTEMD_VERSION} has no systemd-analyze security --offline (needs >= 250)` : '');

const dir = mkdtempSync(join(tmpdir(), 'faceedge-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXEC_STOP_POST = /^ExecStopPost=-\/opt\/faceedge\/current\/bin\/faceedge\.js /m;

/** The unit with ExecStart/ExecStopPost moved to an executable stand-in; every other line is untouched. */
function unitWithStandIn(text = readFileSync(UNIT, 'utf8'), name = 'faceedge.service'): string {
  const standIn = join(dir, 'faceedge.js');
  writeFileSync(standIn, '#!/bin/sh\nexit 0\n');
  chmodSync(standIn, 0o755);
  const path = join(dir, name);
  writeFileSync(
    path,
    text.replace(EXEC_START, `ExecStart=${standIn} `).replace(EXEC_STOP_POST, `ExecStopPost=-${standIn} `),
  );
  return path;
}

function verify(path: string) {
  return spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8' });
}

/** Directives as `key → values` (repeatable keys keep every value). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('systemd/faceedge.service', () => {
  it('declares the notify/watchdog/restart contract and the sandbox the daemon relies on', () => {
    const text = readFileSync(UNIT, 'utf8');
    expect(text).toMatch(EXEC_START);
    // Outputs end safe whatever killed the daemon (see `faceedge gpio safe`).
    expect(text).toMatch(EXEC_STOP_POST);
    expect(/^ExecStopPost=.* gpio safe --config \/etc\/faceedge\/config\.yaml$/m.test(text)).toBe(true);
    const d = directives(text);
    const one = (k: string) => d.get(k)?.at(-1);
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('main'); // sd-notify.ts sends from the main PID
    expect(Number(one('WatchdogSec'))).toBeGreaterThan(0);
    expect(one('Restart')).toBe('on-failure');
    expect(one('User')).toBe('faceedge');
    expect(one('SupplementaryGroups')!.split(/\s+/).sort()).toEqual(['gpio', 'video']);
    expect(one('StateDirectory')).toBe('faceedge');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('DevicePolicy')).toBe('closed');
    expect(d.get('DeviceAllow')).toEqual(expect.arrayContaining(['char-video4linux rw', 'char-gpiochip rw']));
    expect(one('CapabilityBoundingSet')).toBe('');
  });

  it.skipIf(NO_ANALYZE)('passes systemd-analyze verify without a single warning', () => {
    const r = verify(unitWithStandIn());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(NO_ANALYZE)(
    'the verify check notices a broken unit (it warns but exits 0, so stderr is what counts)',
    () => {
      const broken = readFileSync(UNIT, 'utf8').replace(/^Type=notify$/m, 'Type=notfy');
      const r = verify(unitWithStandIn(broken, 'broken.service'));
      expect(r.stderr).toMatch(/Failed to parse service type/);
    },
  );

  it.skipIf(NO_OFFLINE_SECURITY)(
    'has an offline security exposure of at most 2.5 (measured 1.3 with systemd 252)',
    () => {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitWithStandIn()], {
        encoding: 'utf8',
      });
      const m = /Overall exposure level for faceedge\.service: (\d+\.\d)/.exec(r.stdout);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      const exposure = Number(m![1]);
      console.log(`systemd-analyze security --offline=yes faceedge.service: exposure ${exposure}`);
      expect(exposure).toBeLessThanOrEqual(2.5);
    },
  );
});

/**
 * Why the unit leaves MemoryDenyWriteExecute= off: under the kernel's W^X policy (PR_SET_MDWE,
 * Linux ≥ 6.3, the same refusal systemd's filter applies) V8 aborts as soon as it compiles code;
 * only `--jitless` survives. If a future Node passes the first case, turn the directive on.
 */
describe('MemoryDenyWriteExecute and Node', () => {
  const MDWE = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)   # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
os.execv(sys.argv[1], sys.argv[1:])
`;
  const WORK = 'let s = 0; for (let i = 0; i < 1e7; i++) s += i % 7; console.log("ran", s)';
  const run = (...nodeArgs: string[]) =>
    spawnSync(PYTHON, ['-c', MDWE, process.execPath, ...nodeArgs, '-e', WORK], { encoding: 'utf8' });
  const probe = spawnSync(PYTHON, ['-c', MDWE, '/bin/true']);
  const NO_MDWE =
    probe.status === 77
      ? 'this kernel has no PR_SET_MDWE (Linux < 6.3)'
      : probe.status !== 0
        ? `cannot run ${PYTHON}`
        : '';

  it.skipIf(NO_MDWE)('node with its JIT dies under W^X; node --jitless runs', () => {
    const jit = run();
    expect(jit.status).not.toBe(0);
    expect(jit.stdout).not.toMatch(/ran/);
    const jitless = run('--jitless');
    expect(jitless.status).toBe(0);
    expect(jitless.stdout).toMatch(/ran \d+/);
  });
});
