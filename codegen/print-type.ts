/**
 * Writes a checked type out as plain TypeScript: `{ userId: string; locale?: 'en' | 'de' }` instead of the chain of
 * zod generics it came from. Types that have no faithful plain form (functions, recursive or symbol-keyed types,
 * enums) raise {@link UnprintableType}; the caller then falls back to the zod type itself.
 */
import { ts } from 'ts-morph';
import { propertyKey, quote } from './names.js';

/** The parts of a JSON Schema the printer reads descriptions from. */
export interface JsonSchemaNode {
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
  readonly items?: JsonSchemaNode;
}

/** The type cannot be written out plainly; `reason` says why. */
export class UnprintableType extends Error {
  override readonly name = 'UnprintableType';
}

const READONLY_CHECK_FLAG = 8; // ts.CheckFlags.Readonly (internal): set on mapped and instantiated readonly properties
const MAX_DEPTH = 32;

/** A TSDoc comment at `indent`, or nothing when there is no text. */
export function docComment(text: string | undefined, indent: string): string {
  if (text === undefined || text.trim() === '') return '';
  const lines = text.trim().replace(/\*\//g, '*\\/').split(/\r?\n/);
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l === '' ? '' : ` ${l}`}`).join('\n')}\n${indent} */\n`;
}

export class TypePrinter {
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly program: ts.Program,
    /** With `exactOptionalPropertyTypes`, `a?: T | undefined` and `a?: T` differ, so `undefined` is kept. */
    private readonly exactOptional: boolean,
  ) {}

  /** The type as TypeScript source, starting at column `indent` for nested lines. */
  print(type: ts.Type, docs: JsonSchemaNode | undefined, indent = ''): string {
    return this.type(type, docs, indent, []);
  }

  private type(type: ts.Type, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[]): string {
    if (stack.length > MAX_DEPTH) throw new UnprintableType('the type is nested too deeply');
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return 'any';
    if (f & ts.TypeFlags.Unknown) return 'unknown';
    if (f & ts.TypeFlags.Never) return 'never';
    if (f & ts.TypeFlags.Void) return 'void';
    if (f & ts.TypeFlags.Undefined) return 'undefined';
    if (f & ts.TypeFlags.Null) return 'null';
    if (f & ts.TypeFlags.EnumLike) throw new UnprintableType(`it uses the enum type ${this.checker.typeToString(type)}`);
    if (f & ts.TypeFlags.String) return 'string';
    if (f & ts.TypeFlags.Number) return 'number';
    if (f & ts.TypeFlags.Boolean) return 'boolean';
    if (f & ts.TypeFlags.BigInt) return 'bigint';
    if (f & ts.TypeFlags.ESSymbol) return 'symbol';
    if (f & ts.TypeFlags.NonPrimitive) return 'object';
    if (type.isStringLiteral()) return quote(type.value);
    if (type.isNumberLiteral()) return String(type.value);
    if (f & ts.TypeFlags.BigIntLiteral) {
      const v = (type as ts.BigIntLiteralType).value;
      return `${v.negative ? '-' : ''}${v.base10Value}n`;
    }
    if (f & ts.TypeFlags.BooleanLiteral) return (type as { intrinsicName?: string }).intrinsicName === 'true' ? 'true' : 'false';
    if (f & (ts.TypeFlags.TemplateLiteral | ts.TypeFlags.StringMapping)) {
      return this.checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);
    }
    if (type.isUnion()) return this.union(type.types, indent, stack);
    if (type.isIntersection()) {
      return type.types.map((t) => this.member(t, indent, stack)).join(' & ');
    }
    if (f & ts.TypeFlags.Object) return this.object(type as ts.ObjectType, docs, indent, stack);
    throw new UnprintableType(`it contains the type ${this.checker.typeToString(type)}`);
  }

  /** A union, with `true | false` shown as `boolean` and `null`/`undefined` last. */
  private union(types: readonly ts.Type[], indent: string, stack: ts.Type[]): string {
    const parts: string[] = [];
    const tail: string[] = [];
    let sawBoolean = false;
    const hasTrue = types.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && (t as { intrinsicName?: string }).intrinsicName === 'true');
    const hasFalse = types.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && (t as { intrinsicName?: string }).intrinsicName === 'false');
    for (const t of types) {
      if (hasTrue && hasFalse && t.flags & ts.TypeFlags.BooleanLiteral) {
        if (!sawBoolean) parts.push('boolean');
        sawBoolean = true;
        continue;
      }
      if (t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)) tail.push(this.type(t, undefined, indent, stack));
      else parts.push(this.member(t, indent, stack));
    }
    return [...parts, ...tail].join(' | ');
  }

  /** A union or intersection member, parenthesized where precedence needs it. */
  private member(type: ts.Type, indent: string, stack: ts.Type[]): string {
    return parenthesize(type, this.type(type, undefined, indent, stack));
  }

  private object(type: ts.ObjectType, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[]): string {
    if (stack.includes(type)) throw new UnprintableType('it is recursive');
    const inner = [...stack, type];
    const checker = this.checker;
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      const text = element === undefined ? 'unknown' : this.type(element, docs?.items, indent, inner);
      const wrapped = element === undefined ? text : parenthesize(element, text);
      return `${type.getSymbol()?.getName() === 'ReadonlyArray' ? 'readonly ' : ''}${wrapped}[]`;
    }
    if (checker.isTupleType(type)) return this.tuple(type as ts.TupleTypeReference, indent, inner);
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      throw new UnprintableType(`it contains the function type ${checker.typeToString(type)}`);
    }
    const libName = this.libraryTypeName(type, indent, inner);
    if (libName !== undefined) return libName;

    const props = inSchemaOrder(checker.getPropertiesOfType(type), docs);
    const indexes = checker.getIndexInfosOfType(type);
    const [onlyIndex] = indexes;
    if (props.length === 0 && indexes.length === 1 && onlyIndex !== undefined && !onlyIndex.isReadonly && onlyIndex.keyType.flags & ts.TypeFlags.String) {
      return `Record<string, ${this.type(onlyIndex.type, undefined, indent, inner)}>`;
    }
    if (props.length === 0 && indexes.length === 0) return '{}';
    const nested = `${indent}  `;
    const lines: string[] = [];
    for (const info of indexes) {
      const key = this.type(info.keyType, undefined, nested, inner);
      lines.push(`${nested}${info.isReadonly ? 'readonly ' : ''}[key: ${key}]: ${this.type(info.type, undefined, nested, inner)};\n`);
    }
    for (const prop of props) {
      if (prop.getName().startsWith('__@')) throw new UnprintableType('it has a symbol-keyed property');
      const optional = (prop.getFlags() & ts.SymbolFlags.Optional) !== 0;
      let propType = checker.getTypeOfSymbol(prop);
      if (optional && !this.exactOptional && propType.isUnion()) {
        const kept = propType.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
        if (kept.length === 1 && kept[0] !== undefined) propType = kept[0];
        else if (kept.length !== propType.types.length) {
          const text = this.union(kept, nested, inner);
          lines.push(this.propertyLine(prop, optional, text, docs, nested));
          continue;
        }
      }
      const text = this.type(propType, docs?.properties?.[prop.getName()], nested, inner);
      lines.push(this.propertyLine(prop, optional, text, docs, nested));
    }
    return `{\n${lines.join('')}${indent}}`;
  }

  private propertyLine(prop: ts.Symbol, optional: boolean, typeText: string, docs: JsonSchemaNode | undefined, indent: string): string {
    const name = prop.getName();
    const doc = docComment(docs?.properties?.[name]?.description, indent);
    return `${doc}${indent}${isReadonly(prop) ? 'readonly ' : ''}${propertyKey(name)}${optional ? '?' : ''}: ${typeText};\n`;
  }

  private tuple(type: ts.TupleTypeReference, indent: string, stack: ts.Type[]): string {
    const target = type.target;
    const elements = this.checker.getTypeArguments(type).slice(0, target.elementFlags.length);
    const parts = elements.map((element, i) => {
      const flags = target.elementFlags[i] ?? ts.ElementFlags.Required;
      const text = this.type(element, undefined, indent, stack);
      const wrapped = parenthesize(element, text);
      if (flags & ts.ElementFlags.Rest) return `...${wrapped}[]`;
      if (flags & ts.ElementFlags.Variadic) return `...${text}`;
      if (flags & ts.ElementFlags.Optional) return `${wrapped}?`;
      return text;
    });
    return `${target.readonly ? 'readonly ' : ''}[${parts.join(', ')}]`;
  }

  /** `Date`, `Map<string, number>`: types declared by the standard library are written by name. */
  private libraryTypeName(type: ts.ObjectType, indent: string, stack: ts.Type[]): string | undefined {
    const symbol = type.getSymbol();
    const declarations = symbol?.getDeclarations() ?? [];
    if (symbol === undefined || declarations.length === 0) return undefined;
    if (!declarations.every((d) => this.program.isSourceFileDefaultLibrary(d.getSourceFile()))) return undefined;
    if (symbol.getName().startsWith('__')) return undefined;
    const args =
      type.objectFlags & ts.ObjectFlags.Reference ? this.checker.getTypeArguments(type as ts.TypeReference) : [];
    if (args.length === 0) return symbol.getName();
    return `${symbol.getName()}<${args.map((a) => this.type(a, undefined, indent, stack)).join(', ')}>`;
  }
}

/** `A | B` and `A & B` need parentheses inside `T[]` and other unions; `boolean` (a union underneath) does not. */
function parenthesize(type: ts.Type, text: string): string {
  const compound = (type.isUnion() && !(type.flags & ts.TypeFlags.Boolean)) || type.isIntersection();
  return compound ? `(${text})` : text;
}

/**
 * Properties in the order the schema declares them (zod's inferred types list required keys before optional
 * ones); properties the schema does not list keep their place after those it does.
 */
function inSchemaOrder(props: readonly ts.Symbol[], docs: JsonSchemaNode | undefined): readonly ts.Symbol[] {
  const order = Object.keys(docs?.properties ?? {});
  if (order.length === 0) return props;
  const rank = (p: ts.Symbol): number => {
    const i = order.indexOf(p.getName());
    return i === -1 ? order.length : i;
  };
  return [...props].map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map(({ p }) => p);
}

function isReadonly(symbol: ts.Symbol): boolean {
  const links = (symbol as { links?: { checkFlags?: number } }).links;
  if (symbol.getFlags() & ts.SymbolFlags.Transient && (links?.checkFlags ?? 0) & READONLY_CHECK_FLAG) return true;
  return (symbol.getDeclarations() ?? []).some((d) => (ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Readonly) !== 0);
}
