/**
 * RSS over a long looped run: starts `faceedge run --demo --loop` (built JS, as on the board), samples
 * the daemon's resident memory every `--every` seconds for `--minutes`, stops it with SIGTERM and
 * prints one JSON object: samples, first/last/max RSS, growth over the second half, events seen.
 *
 *   npm run build && node dist/scripts/soak.js [--minutes 10] [--every 10]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/inference/shipped-model.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const minutes = flag('--minutes', 10);
const everyS = flag('--every', 10);

const rssMb = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : NaN;
};

const daemon = spawn(
  process.execPath,
  [join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'run', '--demo', '--loop'],
  {
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
    stdio: ['ignore', 'pipe', 'ignore'],
  },
);
let events = 0;
daemon.stdout.on('data', (chunk: Buffer) => {
  events += chunk
    .toString()
    .split('\n')
    .filter((l) => / (NEW|UPDATE|END) /.test(l)).length;
});
const samples: { s: number; rss_mb: number }[] = [];
const started = Date.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    samples.push({ s, rss_mb: rssMb(daemon.pid!) });
    if (s >= minutes * 60) {
      clearInterval(timer);
      resolve();
    }
  }, everyS * 1000);
});
daemon.kill('SIGTERM');
const code = await new Promise<number | null>((resolve) => daemon.on('exit', resolve));
const half = samples.slice(Math.floor(samples.length / 2));
console.log(
  JSON.stringify({
    minutes,
    samples: samples.length,
    exit_code: code,
    events,
    rss_first_mb: samples[0]?.rss_mb,
    rss_last_mb: samples.at(-1)?.rss_mb,
    rss_max_mb: Math.max(...samples.map((x) => x.rss_mb)),
    growth_second_half_mb: half.length > 1 ? half.at(-1)!.rss_mb - half[0].rss_mb : 0,
    rss_mb: samples.map((x) => x.rss_mb),
  }),
);
