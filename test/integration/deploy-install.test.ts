/**
 * deploy/install.sh into a temporary --root: the real script, real tar/systemd-sysusers/systemctl
 * --root, never the host. Idempotence is checked on the whole tree (types, modes, owners, link
 * targets, contents), not on a few files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeReleaseDir, makeReleaseTarball } from '../helpers/fake-release.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

const INSTALL = join(REPO_ROOT, 'deploy/install.sh');
const HAS_SYSUSERS = spawnSync('systemd-sysusers', ['--version']).status === 0;
const NO_SYSUSERS = HAS_SYSUSERS ? '' : 'systemd-sysusers is not installed (Debian package: systemd)';
const HAS_SYSTEMCTL = spawnSync('systemctl', ['--version']).status === 0;
const AS_ROOT = process.getuid?.() === 0;

const work = mkdtempSync(join(tmpdir(), 'faceedge-deploy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const dir = join(work, `${name}-${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

function install(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8', env });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Every entry below `root`: type, mode, owner, link target or content hash. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      const head = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      const key = relative(root, path);
      if (st.isSymbolicLink()) out[key] = `link ${head} -> ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${head}`;
        walk(path);
      } else out[key] = `file ${head} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  walk(root);
  return out;
}

const passwdEntry = (root: string, user: string) =>
  readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
const groupMembers = (root: string, group: string) =>
  readFileSync(join(root, 'etc/group'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${group}:`))
    ?.split(':')[3]
    ?.split(',') ?? [];

describe.skipIf(NO_SYSUSERS)('deploy/install.sh --root', () => {
  it('installs a release, the user, config, unit and state; a second run leaves the same tree', () => {
    const root = fresh('root');
    const release = makeReleaseDir(fresh('src'), '0.1.0');
    const first = install(['--root', root, '--from', release, '--skip-npm']);
    expect(first.code, first.out).toBe(0);

    const opt = join(root, 'opt/faceedge');
    expect(readlinkSync(join(opt, 'current'))).toBe('releases/0.1.0');
    expect(existsSync(join(opt, 'releases/0.1.0/dist/src/cli/main.js'))).toBe(true);
    expect(readFileSync(join(root, 'etc/faceedge/config.yaml'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'deploy/config.example.yaml'), 'utf8'),
    );
    expect(statSync(join(root, 'etc/faceedge/config.yaml')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(root, 'etc/systemd/system/faceedge.service'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'systemd/faceedge.service'), 'utf8'),
    );
    expect(readlinkSync(join(root, 'usr/local/bin/faceedge'))).toBe('/opt/faceedge/current/bin/faceedge.js');
    if (HAS_SYSTEMCTL) {
      expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/faceedge.service'))).toBe(
        '/etc/systemd/system/faceedge.service',
      );
    }

    const user = passwdEntry(root, 'faceedge')!.split(':');
    expect(user[5]).toBe('/var/lib/faceedge');
    expect(user[6]).toBe('/usr/sbin/nologin');
    expect(groupMembers(root, 'video')).toContain('faceedge');
    expect(groupMembers(root, 'gpio')).toContain('faceedge');
    const state = statSync(join(root, 'var/lib/faceedge'));
    expect(state.mode & 0o777).toBe(0o700);
    if (AS_ROOT) {
      expect(state.uid).toBe(Number(user[2]));
      expect(statSync(join(root, 'etc/faceedge/config.yaml')).gid).toBe(Number(user[3]));
    }

    // The installed command runs the release through the `current` link.
    const ran = spawnSync(
      process.execPath,
      [join(opt, 'current/bin/faceedge.js'), 'run', '--config', '/etc/faceedge/config.yaml'],
      { encoding: 'utf8' },
    );
    expect(ran.stdout).toBe('faceedge 0.1.0 stand-in: run --config /etc/faceedge/config.yaml\n');

    const before = snapshot(root);
    const second = install(['--root', root, '--from', release, '--skip-npm']);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/release 0\.1\.0 is already installed/);
    expect(snapshot(root)).toEqual(before);
  });

  it('keeps an edited config.yaml across reinstalls and upgrades', () => {
    const root = fresh('root');
    const src = fresh('src');
    expect(install(['--root', root, '--from', makeReleaseDir(src, '0.1.0'), '--skip-npm']).code).toBe(0);
    const config = join(root, 'etc/faceedge/config.yaml');
    writeFileSync(config, 'device:\n  name: my door\n');
    const r = install(['--root', root, '--from', makeReleaseTarball(src, '0.2.0'), '--skip-npm']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/keeping .*config\.yaml/);
    expect(readFileSync(config, 'utf8')).toBe('device:\n  name: my door\n');
    expect(readlinkSync(join(root, 'opt/faceedge/current'))).toBe('releases/0.2.0');
  });

  it('upgrades from tarballs by switching `current`, and prunes beyond --keep', () => {
    const root = fresh('root');
    const src = fresh('src');
    for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.4.0']) {
      const r = install(['--root', root, '--from', makeReleaseTarball(src, v), '--skip-npm', '--keep', '1']);
      expect(r.code, r.out).toBe(0);
    }
    const releases = join(root, 'opt/faceedge/releases');
    expect(readdirSync(releases).sort()).toEqual(['0.3.0', '0.4.0']);
    expect(readlinkSync(join(root, 'opt/faceedge/current'))).toBe('releases/0.4.0');
    const ran = spawnSync(process.execPath, [join(root, 'opt/faceedge/current/bin/faceedge.js'), '--version'], {
      encoding: 'utf8',
    });
    expect(ran.stdout).toMatch(/^faceedge 0\.4\.0 stand-in/);
  });

  it('uninstalls, keeping config and state unless --purge', () => {
    const root = fresh('root');
    expect(install(['--root', root, '--from', makeReleaseDir(fresh('src'), '0.1.0'), '--skip-npm']).code).toBe(0);
    const r = install(['--root', root, '--uninstall']);
    expect(r.code, r.out).toBe(0);
    for (const gone of [
      'opt/faceedge',
      'etc/systemd/system/faceedge.service',
      'etc/systemd/system/multi-user.target.wants/faceedge.service',
      'usr/local/bin/faceedge',
      'etc/udev/rules.d/60-faceedge-gpio.rules',
    ]) {
      expect(existsSync(join(root, gone)), gone).toBe(false);
    }
    expect(existsSync(join(root, 'etc/faceedge/config.yaml'))).toBe(true);
    expect(existsSync(join(root, 'var/lib/faceedge'))).toBe(true);
    const purge = install(['--root', root, '--uninstall', '--purge']);
    expect(purge.code, purge.out).toBe(0);
    expect(existsSync(join(root, 'etc/faceedge'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/faceedge'))).toBe(false);
  });

  it('refuses a checkout without a build, an old Node.js and unknown options, installing nothing', () => {
    const root = fresh('root');
    const unbuilt = makeReleaseDir(fresh('src'), '0.1.0');
    rmSync(join(unbuilt, 'dist'), { recursive: true });
    const r = install(['--root', root, '--from', unbuilt, '--skip-npm']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no dist\/ build: run npm run build/);

    const fakeBin = fresh('bin');
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\ncase "$1" in --version) echo v18.19.0 ;; *) echo 18 ;; esac\n');
    chmodSync(join(fakeBin, 'node'), 0o755);
    const old = install(['--root', root, '--from', makeReleaseDir(fresh('src'), '0.1.0'), '--skip-npm'], {
      ...process.env,
      PATH: `${fakeBin}:${process.env.PATH}`,
    });
    expect(old.code).toBe(1);
    expect(old.out).toMatch(/Node\.js v18\.19\.0 is too old; faceedge needs >= 20/);

    const bad = install(['--root', root, '--frmo', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/unknown option: --frmo/);
    expect(existsSync(join(root, 'opt'))).toBe(false);
  });
});

describe('deploy/config.example.yaml', () => {
  it('is a valid faceedge configuration (the file a fresh install starts from)', async () => {
    const r = await runCli(['config', 'check', join(REPO_ROOT, 'deploy/config.example.yaml')]);
    expect(r.stdout + r.stderr).toMatch(/config\.example\.yaml: ok/);
    expect(r.code).toBe(0);
  });
});
