/**
 * Reads job options without running the schema file: literals as written, and anything else only when the type
 * checker knows its exact value (a `const`, an `as const` object, an enum-like literal union of one member).
 */
import { ts } from './typescript.js';

/** A function found among the options: code, not data, so only its presence is recorded. */
export class FunctionValue {
  constructor(readonly source: string) {}
  toJSON(): string {
    return '[function]';
  }
}

/** An option value known at generation time. */
export type StaticValue =
  | string
  | number
  | boolean
  | null
  | FunctionValue
  | readonly StaticValue[]
  | { readonly [key: string]: StaticValue };

/** The value, or the node that could not be read. */
export type ReadResult = { readonly ok: true; readonly value: StaticValue | undefined } | { readonly ok: false; readonly node: ts.Node };

const fail = (node: ts.Node): ReadResult => ({ ok: false, node });
const ok = (value: StaticValue | undefined): ReadResult => ({ ok: true, value });

/** The text of a property name written literally (`a`, `'a'`, `1`, `['a']`), or `undefined` when it is computed. */
export function literalPropertyName(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) {
    return name.text;
  }
  if (ts.isComputedPropertyName(name)) {
    const e = name.expression;
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isNumericLiteral(e)) return e.text;
  }
  return undefined;
}

/** Reads an expression statically. */
export function readStatic(node: ts.Expression, checker: ts.TypeChecker): ReadResult {
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isTypeAssertionExpression(node)) {
    return readStatic(node.expression, checker);
  }
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return ok(node.text);
  if (ts.isNumericLiteral(node)) return ok(Number(node.text));
  if (ts.isPrefixUnaryExpression(node) && ts.isNumericLiteral(node.operand)) {
    if (node.operator === ts.SyntaxKind.MinusToken) return ok(-Number(node.operand.text));
    if (node.operator === ts.SyntaxKind.PlusToken) return ok(Number(node.operand.text));
  }
  if (node.kind === ts.SyntaxKind.TrueKeyword) return ok(true);
  if (node.kind === ts.SyntaxKind.FalseKeyword) return ok(false);
  if (node.kind === ts.SyntaxKind.NullKeyword) return ok(null);
  if (ts.isIdentifier(node) && node.text === 'undefined') return ok(undefined);
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) return ok(new FunctionValue(node.getText()));
  if (ts.isArrayLiteralExpression(node)) {
    const out: StaticValue[] = [];
    for (const element of node.elements) {
      if (ts.isSpreadElement(element)) return fromType(element.expression, checker);
      const r = readStatic(element, checker);
      if (!r.ok) return r;
      out.push(r.value === undefined ? null : r.value);
    }
    return ok(out);
  }
  if (ts.isObjectLiteralExpression(node)) return readObject(node, checker);
  return fromType(node, checker);
}

/** Reads an object literal, property by property (spreads through the type checker). */
function readObject(node: ts.ObjectLiteralExpression, checker: ts.TypeChecker): ReadResult {
  const out: Record<string, StaticValue> = {};
  for (const prop of node.properties) {
    if (ts.isSpreadAssignment(prop)) {
      const r = fromType(prop.expression, checker);
      if (!r.ok) return r;
      if (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value) || r.value instanceof FunctionValue) {
        return fail(prop.expression);
      }
      Object.assign(out, r.value);
      continue;
    }
    if (ts.isMethodDeclaration(prop)) {
      const key = literalPropertyName(prop.name);
      if (key === undefined) return fail(prop.name);
      out[key] = new FunctionValue(prop.getText());
      continue;
    }
    if (!ts.isPropertyAssignment(prop) && !ts.isShorthandPropertyAssignment(prop)) return fail(prop);
    const key = literalPropertyName(prop.name);
    if (key === undefined) return fail(prop.name);
    const r = ts.isPropertyAssignment(prop) ? readStatic(prop.initializer, checker) : fromType(prop.name, checker);
    if (!r.ok) return r;
    if (r.value === undefined) delete out[key];
    else out[key] = r.value;
  }
  return ok(out);
}

/** Reads a value from its type: only types with exactly one possible value qualify. */
function fromType(node: ts.Node, checker: ts.TypeChecker): ReadResult {
  const value = valueOfType(checker.getTypeAtLocation(node), checker, 0);
  return value === NOT_STATIC ? fail(node) : ok(value);
}

const NOT_STATIC = Symbol('not static');

function valueOfType(type: ts.Type, checker: ts.TypeChecker, depth: number): StaticValue | undefined | typeof NOT_STATIC {
  if (depth > 10) return NOT_STATIC;
  if (type.isStringLiteral() || type.isNumberLiteral()) return type.value;
  if (type.flags & ts.TypeFlags.BooleanLiteral) return (type as { intrinsicName?: string }).intrinsicName === 'true';
  if (type.flags & ts.TypeFlags.Null) return null;
  if (type.flags & ts.TypeFlags.Undefined) return undefined;
  if (!(type.flags & ts.TypeFlags.Object)) return NOT_STATIC;
  if (type.getCallSignatures().length > 0) return new FunctionValue(checker.typeToString(type));
  if (checker.isTupleType(type)) {
    const out: StaticValue[] = [];
    for (const element of checker.getTypeArguments(type as ts.TypeReference)) {
      const v = valueOfType(element, checker, depth + 1);
      if (v === NOT_STATIC) return NOT_STATIC;
      out.push(v ?? null);
    }
    return out;
  }
  if (checker.isArrayType(type) || checker.getIndexInfosOfType(type).length > 0) return NOT_STATIC;
  const out: Record<string, StaticValue> = {};
  for (const prop of checker.getPropertiesOfType(type)) {
    const v = valueOfType(checker.getTypeOfSymbol(prop), checker, depth + 1);
    if (v === NOT_STATIC) return NOT_STATIC;
    if (v !== undefined) out[prop.name] = v;
  }
  return out;
}

/** A compact, readable rendering for docs: `{ type: 'fixed', delay: '300ms' }`. */
export function renderValue(value: StaticValue): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof FunctionValue) return '(a function)';
  if (Array.isArray(value)) return `[${value.map(renderValue).join(', ')}]`;
  const entries = Object.entries(value as Record<string, StaticValue>);
  return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${k}: ${renderValue(v)}`).join(', ')} }`;
}
