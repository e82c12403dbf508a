/**
 * Rewrites TypeScript `private` members as ECMAScript `#private` members, the tree's one convention
 * (eslint.config.js refuses `private`): fields, methods and accessors are renamed with their every use, and
 * a `private` constructor parameter becomes a `#field` assigned first thing in the constructor (after
 * `super()`). Constructors keep `private`: a `#constructor` does not exist. For a branch written before the
 * convention: run it, then `npx prettier --write` on the files it names.
 *
 *   tsx scripts/private-to-hash.ts [file…]      default: every file of tsconfig.json under src/, scripts/, test/
 *
 * What it cannot rewrite (destructuring `this`, an element access by name) it lists, and exits 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function privateModifier(node: ts.Node): ts.Modifier | undefined {
  if (!ts.canHaveModifiers(node)) return undefined;
  return ts.getModifiers(node)?.find((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
}

/** Removes `modifier` and the spaces after it. */
function removal(source: ts.SourceFile, modifier: ts.Modifier): Edit {
  let end = modifier.end;
  while (source.text[end] === ' ') end++;
  return { start: modifier.getStart(source), end, text: '' };
}

/** The edits that turn a constructor's `private` parameters into `#` fields assigned in its body. */
function parameterProperties(
  source: ts.SourceFile,
  checker: ts.TypeChecker,
  ctor: ts.ConstructorDeclaration,
  privates: Set<ts.Node>,
): Edit[] {
  const edits: Edit[] = [];
  const fields: string[] = [];
  const assignments: string[] = [];
  for (const p of ctor.parameters) {
    if (!privateModifier(p) || !ts.isIdentifier(p.name)) continue;
    const name = p.name.text;
    const modifiers = ts.getModifiers(p) ?? [];
    const readonly = modifiers.some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword) ? 'readonly ' : '';
    for (const m of modifiers) edits.push(removal(source, m));
    // A parameter with a default and no annotation (`private readonly lagMs = 250`) gets its widened type.
    const type =
      p.type?.getText(source) ?? checker.typeToString(checker.getBaseTypeOfLiteralType(checker.getTypeAtLocation(p)));
    fields.push(`${readonly}#${name}${p.questionToken ? '?' : ''}: ${type};`);
    assignments.push(`this.#${name} = ${name};`);
    privates.add(p);
  }
  const body = ctor.body;
  if (fields.length === 0 || !body) return edits;
  const start = ctor.getStart(source);
  const indent = source.text.slice(source.text.lastIndexOf('\n', start) + 1, start);
  edits.push({ start, end: start, text: `${fields.join(`\n${indent}`)}\n\n${indent}` });
  const inner = `${indent}  `;
  const [first] = body.statements;
  const callsSuper =
    first !== undefined &&
    ts.isExpressionStatement(first) &&
    ts.isCallExpression(first.expression) &&
    first.expression.expression.kind === ts.SyntaxKind.SuperKeyword;
  if (!first) {
    edits.push({
      start: body.getStart(source) + 1,
      end: body.end - 1,
      text: `\n${inner}${assignments.join(`\n${inner}`)}\n${indent}`,
    });
  } else if (callsSuper) {
    edits.push({ start: first.end, end: first.end, text: `\n${inner}${assignments.join(`\n${inner}`)}` });
  } else {
    const at = first.getStart(source);
    edits.push({ start: at, end: at, text: `${assignments.join(`\n${inner}`)}\n${inner}` });
  }
  return edits;
}

function rewrite(source: ts.SourceFile, checker: ts.TypeChecker, problems: string[]): string | null {
  const edits: Edit[] = [];
  /** Declarations of the members made `#`. */
  const privates = new Set<ts.Node>();
  const visitClass = (cls: ts.ClassLikeDeclaration): void => {
    for (const member of cls.members) {
      if (ts.isConstructorDeclaration(member)) {
        edits.push(...parameterProperties(source, checker, member, privates));
        continue;
      }
      const modifier = privateModifier(member);
      if (!modifier) continue;
      if (!member.name || !ts.isIdentifier(member.name)) {
        problems.push(`${source.fileName}: a private member without a plain name`);
        continue;
      }
      edits.push(removal(source, modifier), {
        start: member.name.getStart(source),
        end: member.name.end,
        text: `#${member.name.text}`,
      });
      privates.add(member);
    }
  };
  const findClasses = (node: ts.Node): void => {
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) visitClass(node);
    ts.forEachChild(node, findClasses);
  };
  findClasses(source);
  if (privates.size === 0) return null;
  const isPrivate = (node: ts.Node): boolean =>
    (checker.getSymbolAtLocation(node)?.declarations ?? []).some((d) => privates.has(d));
  const where = (node: ts.Node) =>
    `${source.fileName}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const findUses = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && isPrivate(node.name)) {
      edits.push({ start: node.name.getStart(source), end: node.name.end, text: `#${node.name.text}` });
    } else if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression)) {
      if (isPrivate(node.argumentExpression)) problems.push(`${where(node)}: a private member read by element access`);
    } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const type = checker.getTypeAtLocation(node.parent);
      const name = (node.propertyName ?? node.name).getText(source);
      const declarations = type.getProperty(name)?.declarations ?? [];
      if (declarations.some((d) => privates.has(d))) problems.push(`${where(node)}: a private member destructured`);
    }
    ts.forEachChild(node, findUses);
  };
  findUses(source);
  let text = source.text;
  for (const e of edits.sort((a, b) => b.start - a.start || b.end - a.end))
    text = text.slice(0, e.start) + e.text + text.slice(e.end);
  return text;
}

function main(): void {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    'tsconfig.json',
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('cannot read tsconfig.json');
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const checker = program.getTypeChecker();
  const only = new Set(process.argv.slice(2).map((f) => resolve(f)));
  const root = process.cwd();
  const problems: string[] = [];
  const changed: string[] = [];
  for (const source of program.getSourceFiles()) {
    const file = resolve(source.fileName);
    if (!/^(src|scripts|test)\//.test(file.slice(root.length + 1))) continue;
    if (only.size > 0 && !only.has(file)) continue;
    const text = rewrite(source, checker, problems);
    if (text === null || text === readFileSync(file, 'utf8')) continue;
    writeFileSync(file, text);
    changed.push(file.slice(root.length + 1));
  }
  console.log(changed.length > 0 ? `rewrote (format them next):\n  ${changed.join('\n  ')}` : 'nothing to rewrite');
  if (problems.length === 0) return;
  console.error(`to rewrite by hand:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
}

main();
