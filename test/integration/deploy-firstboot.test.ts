/**
 * First boot of a freshly flashed card, played out in a temporary tree: prepare-bootfs.sh on the
 * three kinds of boot partition, Bookworm's firstrun.sh hook, faceedge-firstboot.sh installing the
 * release; plus `cloud-init schema` on the user-data and bash -n / shellcheck on every script.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeReleaseTarball } from '../helpers/fake-release.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const SCRIPTS = [
  'install.sh',
  'firstboot/faceedge-firstboot.sh',
  'firstboot/firstrun.sh',
  'firstboot/prepare-bootfs.sh',
].map((s) => join(DEPLOY, s));
const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg]).status === 0;
const NO_CLOUD_INIT = has('cloud-init') ? '' : 'cloud-init is not installed (Debian package: cloud-init)';
const NO_SHELLCHECK = has('shellcheck') ? '' : 'shellcheck is not installed (Debian package: shellcheck)';
const NO_SYSUSERS = has('systemd-sysusers') ? '' : 'systemd-sysusers is not installed (Debian package: systemd)';

const work = mkdtempSync(join(tmpdir(), 'faceedge-firstboot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const dir = join(work, `${name}-${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
};
const schema = (file: string) => run('cloud-init', ['schema', '--config-file', file]);

const CMDLINE =
  'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait';

describe('deploy scripts', () => {
  it('all parse (bash -n)', () => {
    for (const s of SCRIPTS) expect(run('bash', ['-n', s]), s).toMatchObject({ code: 0 });
  });

  it.skipIf(NO_SHELLCHECK)('pass shellcheck', () => {
    const r = run('shellcheck', SCRIPTS);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});

describe.skipIf(NO_CLOUD_INIT)('deploy/cloud-init/user-data', () => {
  it('is valid cloud-config and runs the first-boot script from the boot partition', () => {
    const file = join(DEPLOY, 'cloud-init/user-data');
    expect(schema(file)).toMatchObject({ code: 0 });
    expect(readFileSync(file, 'utf8')).toMatch(/^#cloud-config\n/);
    expect(readFileSync(file, 'utf8')).toContain('- [bash, /boot/firmware/faceedge/faceedge-firstboot.sh]');
  });

  it('the schema check catches a broken file', () => {
    const bad = join(fresh('ud'), 'user-data');
    writeFileSync(
      bad,
      readFileSync(join(DEPLOY, 'cloud-init/user-data'), 'utf8').replace(/^runcmd:\n.*$/m, 'runcmd: 5'),
    );
    expect(schema(bad).code).not.toBe(0);
  });
});

describe.skipIf(NO_SYSUSERS)('first boot of a flashed card', () => {
  it("Raspberry Pi OS Bookworm: cmdline hook → firstrun.sh schedules the service → faceedge-firstboot.sh installs with the card's config", () => {
    const root = fresh('root');
    const boot = join(root, 'boot/firmware');
    mkdirSync(boot, { recursive: true });
    writeFileSync(join(boot, 'cmdline.txt'), CMDLINE + '\n');
    const src = fresh('src');
    const tarball = makeReleaseTarball(src, '0.3.1');
    const config = join(src, 'config.yaml');
    writeFileSync(config, 'device:\n  name: porch\n');

    const prep = run('bash', [join(DEPLOY, 'firstboot/prepare-bootfs.sh'), boot, tarball, config]);
    expect(prep.code, prep.out).toBe(0);
    const hooked = readFileSync(join(boot, 'cmdline.txt'), 'utf8');
    expect(hooked.split('\n').filter(Boolean)).toHaveLength(1);
    expect(hooked.trim()).toBe(
      `${CMDLINE} systemd.run=/boot/firmware/faceedge/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target`,
    );
    // Idempotent: a second prepare does not add a second hook.
    expect(run('bash', [join(DEPLOY, 'firstboot/prepare-bootfs.sh'), boot, tarball, config]).code).toBe(0);
    expect(readFileSync(join(boot, 'cmdline.txt'), 'utf8')).toBe(hooked);

    // Early boot: the copy on the card runs, with the image mounted at `root`.
    const first = run('bash', [join(boot, 'faceedge/firstrun.sh'), '--root', root]);
    expect(first.code, first.out).toBe(0);
    expect(readFileSync(join(boot, 'cmdline.txt'), 'utf8').trim()).toBe(CMDLINE);
    const unit = join(root, 'etc/systemd/system/faceedge-firstboot.service');
    expect(readFileSync(unit, 'utf8')).toContain('ExecStart=/bin/bash /boot/firmware/faceedge/faceedge-firstboot.sh');
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/faceedge-firstboot.service'))).toBe(
      '/etc/systemd/system/faceedge-firstboot.service',
    );
    if (has('systemd-analyze')) {
      const v = run('systemd-analyze', ['verify', '--man=no', unit]);
      expect(v.out).toBe('');
    }

    // Next boot, network up: the service installs the release (npm skipped: the stand-in has no lock file).
    const boot2 = run('bash', [join(boot, 'faceedge/faceedge-firstboot.sh'), '--root', root, '--', '--skip-npm']);
    expect(boot2.code, boot2.out).toBe(0);
    expect(readlinkSync(join(root, 'opt/faceedge/current'))).toBe('releases/0.3.1');
    expect(readFileSync(join(root, 'etc/faceedge/config.yaml'), 'utf8')).toBe('device:\n  name: porch\n');
    expect(existsSync(join(root, 'var/lib/faceedge/.firstboot-done'))).toBe(true);
    const again = run('bash', [join(boot, 'faceedge/faceedge-firstboot.sh'), '--root', root, '--', '--skip-npm']);
    expect(again).toMatchObject({ code: 0 });
    expect(again.out).toMatch(/already done/);
  });

  it("Raspberry Pi OS Bookworm customised by Imager: rides inside Imager's firstrun.sh, before it deletes itself", () => {
    const boot = fresh('boot');
    const imagerCmdline = `${CMDLINE} systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target`;
    writeFileSync(join(boot, 'cmdline.txt'), imagerCmdline + '\n');
    writeFileSync(
      join(boot, 'firstrun.sh'),
      "#!/bin/bash\n\nset +e\n\necho configure wifi\nrm -f /boot/firstrun.sh\nsed -i 's| systemd.run.*||g' /boot/cmdline.txt\nexit 0\n",
    );
    const r = run('bash', [
      join(DEPLOY, 'firstboot/prepare-bootfs.sh'),
      boot,
      makeReleaseTarball(fresh('src'), '0.3.1'),
    ]);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(boot, 'cmdline.txt'), 'utf8').trim()).toBe(imagerCmdline);
    const lines = readFileSync(join(boot, 'firstrun.sh'), 'utf8').split('\n');
    expect(lines.indexOf('bash /boot/firmware/faceedge/firstrun.sh')).toBe(
      lines.indexOf('rm -f /boot/firstrun.sh') - 1,
    );
    expect(run('bash', ['-n', join(boot, 'firstrun.sh')]).code).toBe(0);
    run('bash', [join(DEPLOY, 'firstboot/prepare-bootfs.sh'), boot, join(boot, 'faceedge/faceedge-0.3.1.tar.gz')]);
    expect(
      readFileSync(join(boot, 'firstrun.sh'), 'utf8').split('bash /boot/firmware/faceedge/firstrun.sh').length,
    ).toBe(2);
  });

  it.skipIf(NO_CLOUD_INIT)(
    'cloud-init images: adds a runcmd to a user-data that has none, refuses to guess when it has one',
    () => {
      const boot = fresh('boot');
      const userData = '#cloud-config\nhostname: cam1\nusers:\n  - name: pi\n    groups: [sudo, video]\n';
      writeFileSync(join(boot, 'user-data'), userData);
      const tarball = makeReleaseTarball(fresh('src'), '0.3.1');
      const r = run('bash', [join(DEPLOY, 'firstboot/prepare-bootfs.sh'), boot, tarball]);
      expect(r.code, r.out).toBe(0);
      const merged = readFileSync(join(boot, 'user-data'), 'utf8');
      expect(merged.startsWith(userData)).toBe(true);
      expect(merged).toContain('- [bash, /boot/firmware/faceedge/faceedge-firstboot.sh]');
      expect(schema(join(boot, 'user-data'))).toMatchObject({ code: 0 });

      const other = fresh('boot');
      const withRuncmd = '#cloud-config\nruncmd:\n  - [touch, /tmp/x]\n';
      writeFileSync(join(other, 'user-data'), withRuncmd);
      const refused = run('bash', [join(DEPLOY, 'firstboot/prepare-bootfs.sh'), other, tarball]);
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(
        /already has a runcmd: list; add this entry to it: - \[bash, \/boot\/firmware\/faceedge\/faceedge-firstboot\.sh\]/,
      );
      expect(readFileSync(join(other, 'user-data'), 'utf8')).toBe(withRuncmd);
    },
  );
});
