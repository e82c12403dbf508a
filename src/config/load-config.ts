/**
 * Loads the configuration once: YAML file, then `FACEEDGE_*` env overrides, then CLI flags (later
 * wins), validated in one pass that reports every problem, with derived defaults filled in, deeply
 * frozen. The loader never touches `process.env`: the entry point passes the environment in, which is
 * the only place the daemon reads it.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { manifestPathFor } from '../inference/model-manifest.js';
import { GALLERY_FILE_NAME } from '../recognition/recognition-config-schema.js';
import { parseDocument } from 'yaml';
import { configSchema, DEFAULT_CLASSIFIER_NAME, type FaceedgeConfig, type ParsedConfig } from './config-schema.js';
import { ConfigInvalidError, configIssuesFromZod, type ConfigIssue } from './config-issues.js';
import { applyOverrides, envOverrides, flagOverrides } from './config-overrides.js';

export interface LoadConfigOptions {
  /** YAML config file; absent = defaults plus overrides only. */
  readonly file?: string;
  /** The process environment (`FACEEDGE_*` overrides, systemd `STATE_DIRECTORY`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** CLI flag overrides as dotted paths (`{ 'mqtt.url': … }`); undefined values are ignored. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /**
   * Defaults of this run as dotted paths, below everything else: each applies only where the file sets
   * no value, and env and flags override it (the demo's live view port). Undefined values are ignored.
   */
  readonly defaults?: Readonly<Record<string, unknown>>;
  /** Host name used for the default device id. Default `os.hostname()`. */
  readonly hostname?: string;
}

/** Largest config file read, bytes: 1 MiB (a full board config with rules is a few KB). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * How far aliases may expand (yaml's `maxAliasCount`: per anchor, its uses × the alias nodes under it;
 * 100 is yaml's own default, said here because the bound matters). Anchors shared between a few cameras
 * stay far below; a "billion laughs" file (aliases of aliases of aliases) is refused at its first few
 * expansions instead of growing a small file into gigabytes.
 */
export const MAX_CONFIG_ALIAS_EXPANSION = 100;

/** Why `info` cannot be a config file, or null when it is a regular file of a sane size. */
function configFileProblem(info: Stats): string | null {
  if (!info.isFile()) return info.isDirectory() ? 'it is a directory' : 'it is not a regular file';
  if (info.size > MAX_CONFIG_FILE_BYTES) return `it is ${info.size} bytes, more than ${MAX_CONFIG_FILE_BYTES}`;
  return null;
}

/**
 * The text of a config file: a regular file of at most {@link MAX_CONFIG_FILE_BYTES}, checked before it
 * is opened (a FIFO would block the read for ever, /dev/zero fill memory) and again on the open descriptor.
 */
function readConfigText(file: string): string {
  const before = configFileProblem(statSync(file));
  if (before) throw new Error(before);
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const after = configFileProblem(fstatSync(fd));
    if (after) throw new Error(after);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and parses a YAML file into a plain tree; YAML syntax errors come back as issues with line
 * numbers, and so does whatever the file cannot be turned into (an alias bomb, an alias without anchor).
 */
export function readConfigFile(file: string): { tree: unknown; issues: ConfigIssue[] } {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { tree: {}, issues: [{ path: '', message: `cannot read config file ${file}: ${reason}` }] };
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    return {
      tree: {},
      issues: doc.errors.map((e) => ({
        path: '',
        // The first line of yaml's pretty message already ends with "at line L, column C".
        message: `${file}: YAML syntax error: ${e.message.split('\n')[0]!.replace(/:$/, '')}`,
      })),
    };
  }
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIAS_EXPANSION });
  } catch (err) {
    // yaml throws a ReferenceError for too many aliases and for an alias used before its anchor.
    return { tree: {}, issues: [{ path: '', message: `${file}: YAML aliases: ${(err as Error).message}` }] };
  }
  if (tree === null || tree === undefined) return { tree: {}, issues: [] };
  if (typeof tree !== 'object' || Array.isArray(tree)) {
    return { tree: {}, issues: [{ path: '', message: `${file}: the top level must be a mapping of sections` }] };
  }
  return { tree, issues: [] };
}

/** Lower-cased host name reduced to a valid topic level (`Pi 4.local` → `pi-4-local`). */
export function deviceIdFromHostname(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return id === '' ? 'faceedge' : id;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function fillDerived(cfg: ParsedConfig, env: LoadConfigOptions['env'], hostname: string): FaceedgeConfig {
  const id = cfg.device.id ?? deviceIdFromHostname(hostname);
  // systemd's StateDirectory= exports STATE_DIRECTORY (colon-separated when several are declared).
  const stateDir = cfg.state_dir ?? env.STATE_DIRECTORY?.split(':')[0] ?? '.faceedge';
  const classifier = { ...cfg.classifier, manifest: cfg.classifier.manifest ?? manifestPathFor(cfg.classifier.model) };
  const classifiers = cfg.classifiers?.map(({ head, head_manifest, ...c }) => ({
    ...c,
    manifest: c.manifest ?? manifestPathFor(c.model),
    ...(head !== undefined && { head: { model: head, manifest: head_manifest ?? manifestPathFor(head) } }),
  })) ?? [{ ...classifier, name: classifier.name ?? DEFAULT_CLASSIFIER_NAME }];
  return {
    ...cfg,
    device: { id, name: cfg.device.name ?? id, tags: cfg.device.tags },
    mqtt: {
      ...cfg.mqtt,
      client_id: cfg.mqtt.client_id ?? `faceedge-${id}`,
      outbox: { ...cfg.mqtt.outbox, dir: cfg.mqtt.outbox.dir ?? join(stateDir, 'outbox') },
    },
    classifier: cfg.classifiers ? classifiers[0] : classifier,
    classifiers,
    models: { ...cfg.models, dir: cfg.models.dir ?? join(stateDir, 'models') },
    recognition: { ...cfg.recognition, gallery: cfg.recognition.gallery ?? join(stateDir, GALLERY_FILE_NAME) },
    state_dir: stateDir,
  };
}

/**
 * Validates an already-merged tree. Throws ConfigInvalidError listing every issue.
 * @param source what the tree came from, for the error message.
 */
export function parseConfig(
  tree: unknown,
  options: { env?: LoadConfigOptions['env']; hostname?: string; source?: string } = {},
): FaceedgeConfig {
  const result = configSchema.safeParse(tree);
  const issues: ConfigIssue[] = result.success ? [] : [...configIssuesFromZod(result.error.issues)];
  // `classifier:` always has a value after parsing (its defaults), so both sections are told apart here.
  if (hasValueAt(tree, ['classifier']) && hasValueAt(tree, ['classifiers']))
    issues.push({
      path: 'classifier',
      message: 'set either classifier: (one model) or classifiers: (a list), not both; move its settings into the list',
    });
  if (!result.success || issues.length > 0) throw new ConfigInvalidError(issues, options.source ?? 'config');
  return deepFreeze(fillDerived(result.data, options.env ?? {}, options.hostname ?? osHostname()));
}

/** True when `tree` has a value at `path`. */
function hasValueAt(tree: unknown, path: readonly string[]): boolean {
  let node = tree;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== undefined && node !== null;
}

/** Defaults + file + env + flags → frozen FaceedgeConfig. Throws ConfigInvalidError with every issue found. */
export function loadConfig(options: LoadConfigOptions): FaceedgeConfig {
  const source = options.file ?? 'defaults';
  let tree: unknown = {};
  if (options.file !== undefined) {
    const read = readConfigFile(options.file);
    if (read.issues.length > 0) throw new ConfigInvalidError(read.issues, source);
    tree = read.tree;
  }
  const defaults = flagOverrides(options.defaults ?? {}).filter((d) => !hasValueAt(tree, d.path));
  const merged = applyOverrides(tree, [
    ...defaults,
    ...envOverrides(options.env),
    ...flagOverrides(options.flags ?? {}),
  ]);
  return parseConfig(merged, { env: options.env, hostname: options.hostname, source });
}
