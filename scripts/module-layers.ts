/**
 * The shape of `src/` in numbers, and the check that keeps it: which module (top-level folder, or top-level
 * file) imports which, against the layer table below (docs/architecture.md explains it), plus the import
 * cycles between files, the longest functions and the lines over the formatter's width.
 *
 *   tsx scripts/module-layers.ts                 report
 *   tsx scripts/module-layers.ts --json          the same as one JSON object
 *   tsx scripts/module-layers.ts --check         exit 1 on a cycle, an import that runs upward or sideways
 *                                                (unless listed in ALLOWED_UPWARD), or a module missing from
 *                                                the table (what `npm run lint` runs)
 *   tsx scripts/module-layers.ts --root <dir>    measure another checkout (e.g. a `git worktree` of an older
 *                                                commit) with this table
 *
 * Imports are read from the syntax (static `import`/`export … from`, type-only ones included, and `import()`),
 * so a type import counts: it is a dependency of the code's meaning even when it vanishes from the output.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * Layers from the bottom up. A module may import modules of lower layers only: never one of its own layer
 * (sideways) or of a higher one (upward). Shared contracts sit low, so that a module owns its contract and
 * whoever composes modules sits above them.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'schema', 'concurrency'], // typed errors; config-schema building blocks; bounded concurrency
  ['observability'], // logs, metrics, health, URL redaction
  ['capture', 'gpio', 'service'], // frames in; GPIO lines; running as a service (systemd, launcher)
  ['vision', 'classification'], // decoding for detection, alignment, face geometry; class probabilities and decisions
  ['inference', 'pipeline'], // TFLite models; detect → classify → track
  ['dataset', 'rules', 'mqtt', 'recognition', 'liveness'], // training crops; rules on events; MQTT; who, and is it live
  ['config', 'evaluation', 'live-view', 'model-push'], // the board's config; accuracy; the live view; model packages
  ['fleet', 'training'], // many boards on one broker; the workstation's training command
  ['daemon'], // the composition root of `faceedge run` and its parts
  ['cli'], // the commands
];

/**
 * Imports that break the table on purpose, each with its reason (docs/architecture.md repeats them).
 * Keyed `from -> to` by module.
 */
export const ALLOWED_UPWARD: Readonly<Record<string, string>> = {};

/** Folders renamed by issue 22, so that the same table measures the tree as it was before. */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  outputs: 'mqtt',
  control: 'service',
  'defined-values': 'schema',
};

interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

interface FunctionSpan {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The module of a file under `src/`: its top-level folder, or its own name for a top-level file. */
function moduleOf(srcRelative: string): string {
  const parts = srcRelative.split(sep);
  const name = parts.length === 1 ? parts[0].replace(/\.ts$/, '') : parts[0];
  return FORMER_NAMES[name] ?? name;
}

function layerOf(module: string): number {
  return LAYERS.findIndex((layer) => layer.includes(module));
}

/** Relative imports of one file, resolved to `src/`-relative `.ts` paths. */
function importsOf(src: string, file: string, text: string): string[] {
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(src, normalize(join(dirname(file), s.replace(/\.js$/, '.ts')))));
}

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** A readable name for a function-like node: `Class.method`, `function`, or `name` of `const name = () =>`. */
function functionName(node: ts.Node): string {
  const named = (n: ts.Node): string | undefined => {
    const name = (n as { name?: ts.Node }).name;
    return name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) ? name.text : undefined;
  };
  const own = ts.isConstructorDeclaration(node) ? 'constructor' : named(node);
  const parent = node.parent;
  const holder =
    own ??
    (ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertyAssignment(parent)
      ? named(parent)
      : undefined);
  const owner = ts.isClassLike(parent) ? named(parent) : undefined;
  if (holder) return owner ? `${owner}.${holder}` : holder;
  return '(anonymous)';
}

function functionSpans(file: string, text: string, label: string): FunctionSpan[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      spans.push({ file: label, name: functionName(node), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

export interface LayerReport {
  readonly modules: number;
  readonly layers: number;
  readonly moduleEdges: number;
  readonly upward: readonly { readonly edge: string; readonly imports: readonly string[]; readonly allowed?: string }[];
  readonly sideways: readonly { readonly edge: string; readonly imports: readonly string[] }[];
  readonly unplaced: readonly string[];
  readonly fileCycles: readonly (readonly string[])[];
  readonly moduleCycles: readonly (readonly string[])[];
  readonly longestFunctions: readonly FunctionSpan[];
  readonly printWidth: number;
  readonly linesOverWidth: { readonly src: number; readonly all: number };
}

export function measure(root: string): LayerReport {
  const src = join(root, 'src');
  const files = tsFiles(src);
  const fileGraph = new Map<string, string[]>();
  const moduleImports = new Map<string, string[]>();
  const spans: FunctionSpan[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(src, file);
    const targets = importsOf(src, file, text);
    fileGraph.set(rel, targets);
    for (const target of targets) {
      const edge: ImportEdge = { from: moduleOf(rel), to: moduleOf(target) };
      if (edge.from === edge.to) continue;
      const key = `${edge.from} -> ${edge.to}`;
      moduleImports.set(key, [...(moduleImports.get(key) ?? []), `${rel} -> ${target}`]);
    }
    spans.push(...functionSpans(file, text, join('src', rel)));
  }
  const modules = new Set([...fileGraph.keys()].map(moduleOf));
  const moduleGraph = new Map<string, string[]>([...modules].map((m) => [m, []]));
  const upward: LayerReport['upward'][number][] = [];
  const sideways: LayerReport['sideways'][number][] = [];
  for (const [key, imports] of [...moduleImports].sort()) {
    const [from, to] = key.split(' -> ');
    moduleGraph.get(from)?.push(to);
    const [a, b] = [layerOf(from), layerOf(to)];
    if (a < 0 || b < 0) continue;
    if (b > a) upward.push({ edge: key, imports, allowed: ALLOWED_UPWARD[key] });
    else if (a === b) sideways.push({ edge: key, imports });
  }
  const printWidth = (JSON.parse(readFileSync(join(root, '.prettierrc.json'), 'utf8')) as { printWidth: number })
    .printWidth;
  const over = (paths: string[]) =>
    paths.reduce(
      (n, f) =>
        n +
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l.length > printWidth).length,
      0,
    );
  return {
    modules: modules.size,
    layers: new Set([...modules].map(layerOf).filter((l) => l >= 0)).size,
    moduleEdges: moduleImports.size,
    upward,
    sideways,
    unplaced: [...modules].filter((m) => layerOf(m) < 0).sort(),
    fileCycles: cycles(fileGraph),
    moduleCycles: cycles(moduleGraph),
    longestFunctions: spans.sort((x, y) => y.lines - x.lines).slice(0, 5),
    printWidth,
    linesOverWidth: {
      src: over(files),
      all: over([...files, ...['scripts', 'test', 'web'].flatMap((d) => tsFiles(join(root, d)))]),
    },
  };
}

function print(r: LayerReport): void {
  const out: string[] = [
    `modules ${r.modules} on ${r.layers} layers, ${r.moduleEdges} module-to-module imports`,
    `upward imports: ${r.upward.length} (${r.upward.filter((u) => !u.allowed).length} not allowed)`,
    ...r.upward.map((u) => `  ${u.edge}${u.allowed ? ` (allowed: ${u.allowed})` : ''}: ${u.imports.join(', ')}`),
    `sideways imports: ${r.sideways.length}`,
    ...r.sideways.map((s) => `  ${s.edge}: ${s.imports.join(', ')}`),
    `modules missing from the layer table: ${r.unplaced.length ? r.unplaced.join(', ') : 'none'}`,
    `import cycles between files: ${r.fileCycles.length}`,
    ...r.fileCycles.map((c) => `  ${c.join(' ⇄ ')}`),
    `cycles between modules: ${r.moduleCycles.length}`,
    ...r.moduleCycles.map((c) => `  ${c.join(' ⇄ ')}`),
    'longest functions (lines):',
    ...r.longestFunctions.map((f) => `  ${f.lines}  ${f.name}  ${f.file}:${f.line}`),
    `lines over ${r.printWidth} characters: src ${r.linesOverWidth.src}, src+scripts+test+web ${r.linesOverWidth.all}`,
  ];
  console.log(out.join('\n'));
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('--root');
  const report = measure(at >= 0 ? args[at + 1] : process.cwd());
  if (args.includes('--json')) console.log(JSON.stringify(report, null, 2));
  else print(report);
  if (!args.includes('--check')) return;
  const problems = [
    ...report.upward.filter((u) => !u.allowed).map((u) => `upward import ${u.edge}`),
    ...report.sideways.map((s) => `sideways import ${s.edge}`),
    ...report.unplaced.map((m) => `module ${m} is not in LAYERS (scripts/module-layers.ts)`),
    ...report.fileCycles.map((c) => `import cycle ${c.join(' ⇄ ')}`),
  ];
  if (problems.length === 0) return;
  console.error(`\nmodule layers: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
}

main();
