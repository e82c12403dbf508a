/**
 * The training engine is Python (`train/faceedge_train`, PyTorch); `faceedge train` drives it. This file finds a
 * Python that can run it and runs one of its modules as a child process: progress events (JSON lines on stdout,
 * `--progress -`) go to a callback, the engine's own log lines (stderr) to another, and a Ctrl-C or SIGTERM
 * reaches the child, which stops after the step in flight and leaves a resumable checkpoint.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FaceedgeError } from '../errors.js';
import { packageRoot } from '../inference/shipped-model.js';

/** The folder that holds the `faceedge_train` package. */
export function trainingPackageDir(): string {
  return join(packageRoot(), 'train');
}

export interface PythonEngine {
  /** The interpreter's path, as given or found. */
  readonly python: string;
  /** `torch.__version__`. */
  readonly torch: string;
  /** Whether torch sees a CUDA device. */
  readonly cuda: boolean;
}

const PROBE = 'import json, torch; print(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available()}))';

/**
 * Where a Python with torch is looked for, in order: `--python`, `$FACEEDGE_PYTHON`, a virtual environment in
 * `train/.venv`, Debian's `/usr/bin/python3` (which has `python3-torch`), then `python3` on the PATH.
 */
export function pythonCandidates(requested: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (requested) return [requested];
  if (env.FACEEDGE_PYTHON) return [env.FACEEDGE_PYTHON];
  return [join(trainingPackageDir(), '.venv', 'bin', 'python'), '/usr/bin/python3', 'python3'].filter(
    (p) => !p.startsWith('/') || existsSync(p),
  );
}

/** The first candidate that imports torch; a USAGE error naming every one tried, and how to set one up, if none. */
export function findPythonEngine(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): PythonEngine {
  const tried: string[] = [];
  for (const python of pythonCandidates(requested, env)) {
    const probe = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 120_000 });
    if (probe.status === 0) {
      const facts = JSON.parse(probe.stdout.trim().split('\n').at(-1) ?? '{}') as { torch: string; cuda: boolean };
      return { python, torch: facts.torch, cuda: facts.cuda };
    }
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').at(-1) ?? `exit ${probe.status}`);
    tried.push(`${python}: ${why}`);
  }
  throw new FaceedgeError('USAGE', `no Python with torch found (tried ${tried.join('; ')})`, {
    hint: 'name one with --python or FACEEDGE_PYTHON; on Debian: apt-get install python3-torch; elsewhere: python3 -m venv train/.venv && train/.venv/bin/pip install -r train/requirements.txt (README "Retraining")',
  });
}

export interface ModuleRun {
  readonly engine: PythonEngine;
  /** `faceedge_train.<module>`. */
  readonly module: string;
  readonly args: readonly string[];
  /** Run under `torch.distributed.run` with this many processes (the engine's DDP mode). */
  readonly processes?: number;
  /** Each progress event (a JSON object line on stdout). */
  readonly onEvent?: (event: Record<string, unknown>) => void;
  /** Each other line of stdout or stderr: the engine's log. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ModuleOutcome {
  /** Exit status; 128 + n when a signal stopped it. */
  readonly code: number;
  /** The signal this process forwarded to the child, if one did (Ctrl-C: SIGINT). */
  readonly stoppedBy: NodeJS.Signals | null;
  /** stdout lines that were not progress events (e.g. a JSON report). */
  readonly stdout: readonly string[];
}

/**
 * Runs `python -m faceedge_train.<module> <args>` to its end. SIGINT and SIGTERM received meanwhile are passed on
 * (once each) instead of killing this process, so the engine can save where it stands; the outcome says so.
 */
export async function runEngineModule(run: ModuleRun): Promise<ModuleOutcome> {
  const launcher =
    (run.processes ?? 1) > 1
      ? ['-m', 'torch.distributed.run', `--nproc_per_node=${run.processes}`, '--redirects', '1', '--tee', '1']
      : [];
  const child = spawn(run.engine.python, [...launcher, '-m', `faceedge_train.${run.module}`, ...run.args], {
    env: {
      ...process.env,
      ...run.env,
      PYTHONPATH: [trainingPackageDir(), process.env.PYTHONPATH].filter(Boolean).join(':'),
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stoppedBy: NodeJS.Signals | null = null;
  const forward = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal;
    child.kill(signal);
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const stdout: string[] = [];
  const lines = (stream: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      const source = stream === 'stdout' ? child.stdout : child.stderr;
      const reader = createInterface({ input: source });
      reader.on('line', (line) => {
        const event = stream === 'stdout' ? progressEvent(line) : null;
        if (event) run.onEvent?.(event);
        else {
          if (stream === 'stdout') stdout.push(line);
          run.onLine?.(line, stream);
        }
      });
      reader.once('close', resolve);
    });
  try {
    const [code] = await Promise.all([
      new Promise<number>((resolve, reject) => {
        child.once('error', (err) =>
          reject(new FaceedgeError('USAGE', `cannot start ${run.engine.python}: ${err.message}`, { cause: err })),
        );
        child.once('close', (status, signal) =>
          resolve(status ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 9)),
        );
      }),
      lines('stdout'),
      lines('stderr'),
    ]);
    return { code, stoppedBy, stdout };
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

const TORCHRUN_PREFIX = /^\[default\d+\]:/;

/** A progress event: a JSON object with a string `event` field; anything else is a log line. */
function progressEvent(raw: string): Record<string, unknown> | null {
  const line = raw.replace(TORCHRUN_PREFIX, ''); // torchrun --tee prefixes each rank's lines
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as { event?: unknown }).event === 'string'
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
