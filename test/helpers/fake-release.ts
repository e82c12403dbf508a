/**
 * A small but real faceedge release for the deploy tests: the repository's bin/, systemd/ and
 * deploy/ folders, a package.json with the given version, and a stand-in for the compiled CLI
 * (dist/src/cli/main.js) that prints its arguments — so the installed `faceedge` link can be run.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './run-cli.js';

/** Builds `<parent>/faceedge-<version>/` and returns its path. */
export function makeReleaseDir(parent: string, version: string): string {
  const dir = join(parent, `faceedge-${version}`);
  mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
  for (const folder of ['bin', 'systemd', 'deploy'])
    cpSync(join(REPO_ROOT, folder), join(dir, folder), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'faceedge', version, type: 'module' }, null, 2) + '\n',
  );
  writeFileSync(
    join(dir, 'dist/src/cli/main.js'),
    `console.log('faceedge ${version} stand-in:', process.argv.slice(2).join(' '));\n`,
  );
  return dir;
}

/** `<parent>/faceedge-<version>.tar.gz` holding one top-level `faceedge-<version>/` folder. */
export function makeReleaseTarball(parent: string, version: string): string {
  makeReleaseDir(parent, version);
  const tarball = join(parent, `faceedge-${version}.tar.gz`);
  const r = spawnSync('tar', ['-czf', tarball, '-C', parent, `faceedge-${version}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return tarball;
}
