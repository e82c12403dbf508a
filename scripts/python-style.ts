/**
 * The Python side of "one formatter, one linter": ruff's formatter and linter over every tracked `*.py` file,
 * configured by the repository's `ruff.toml`, run through ruff's own WebAssembly build so that CI needs no
 * Python package beyond what the tests already use.
 *
 *   tsx scripts/python-style.ts          check: exit 1 listing every unformatted file and every lint finding
 *   tsx scripts/python-style.ts --write  format the files and apply ruff's fixes where it offers one
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { PositionEncoding, Workspace, type Diagnostic } from '@astral-sh/ruff-wasm-nodejs';
import { parse } from 'smol-toml';

/** Rounds of fix-then-recheck before giving up on a file (one fix can expose the next, e.g. an import left unused). */
const MAX_FIX_ROUNDS = 10;

function pythonFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.py'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.length > 0);
}

/** Offset in `text` of a ruff location (1-based row, 1-based UTF-16 column). */
function offsetOf(lineStarts: number[], location: { row: number; column: number }): number {
  return lineStarts[location.row - 1] + location.column - 1;
}

/** `text` with every non-overlapping fix of `diagnostics` applied (later edits first, so offsets stay valid). */
function applyFixes(text: string, diagnostics: Diagnostic[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const edits = diagnostics
    .flatMap((d) => d.fix?.edits ?? [])
    .map((e) => ({
      start: offsetOf(lineStarts, e.location),
      end: offsetOf(lineStarts, e.end_location),
      content: e.content ?? '',
    }))
    .sort((a, b) => b.start - a.start);
  let out = text;
  let limit = Infinity;
  for (const edit of edits) {
    if (edit.end > limit) continue; // overlaps an edit already applied: the next round re-checks it
    out = out.slice(0, edit.start) + edit.content + out.slice(edit.end);
    limit = edit.start;
  }
  return out;
}

function main(): void {
  const write = process.argv.includes('--write');
  const workspace = new Workspace(parse(readFileSync('ruff.toml', 'utf8')), PositionEncoding.Utf16);
  const problems: string[] = [];
  for (const file of pythonFiles()) {
    const original = readFileSync(file, 'utf8');
    let text = original;
    if (write) {
      for (let round = 0; round < MAX_FIX_ROUNDS; round++) {
        const fixable = (workspace.check(text) as Diagnostic[]).filter((d) => d.fix);
        if (fixable.length === 0) break;
        text = applyFixes(text, fixable);
      }
      text = workspace.format(text);
      if (text !== original) writeFileSync(file, text);
    } else if (workspace.format(text) !== text) {
      problems.push(`${file}: not formatted (npm run format:py)`);
    }
    for (const d of workspace.check(text) as Diagnostic[]) {
      problems.push(`${file}:${d.start_location.row}:${d.start_location.column}: ${d.code ?? 'syntax'} ${d.message}`);
    }
  }
  for (const p of problems) console.log(p);
  if (problems.length > 0) {
    console.log(`${problems.length} Python style problem(s)`);
    process.exitCode = 1;
  }
}

main();
