/**
 * Writes a checked type out as plain TypeScript: `{ userId: string; locale?: 'en' | 'de' }` instead of the chain of
 * zod generics it came from. A part that has no faithful plain form (a recursive, function, enum or symbol-keyed
 * type) is written as an indexed access into the zod type (`z.input<…>['tree']['children']`) at the nearest
 * property that can be reached that way; only when there is none does the whole type raise {@link UnprintableType}
 * and the caller falls back to the zod type itself.
 */
import { ts } from './typescript.js';
import { propertyKey, quote } from './names.js';

/** The parts of a JSON Schema the printer reads descriptions (and the order of properties) from. */
export interface JsonSchemaNode {
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
  readonly items?: JsonSchemaNode;
  /** The members of a union (`z.union`, `.nullable()`), in the schema's order. */
  readonly anyOf?: readonly JsonSchemaNode[];
  /** The members of a discriminated union. */
  readonly oneOf?: readonly JsonSchemaNode[];
}

/** A part of the type written as the zod type, because it has no plain form. */
export interface Fallback {
  /** Where in the payload: `root.subcategories`, `items[]`, or `` (the whole payload). */
  readonly path: string;
  /** Why: `it is recursive`. */
  readonly reason: string;
}

/** Helper types the printed text uses; the file that holds it must declare them (see {@link HELPER_TYPES}). */
export type HelperType = 'Catchall';

/** The declarations of the helper types. */
export const HELPER_TYPES: Readonly<Record<HelperType, string>> = {
  Catchall: `/**
 * An object with known properties and a catch-all index signature they do not all fit (zod's \`.catchall()\`), written
 * the way zod computes it: \`{ [key: string]: Rest; known: Known }\` would not compile when a known property is not
 * a \`Rest\`.
 */
type Catchall<Known, Rest> = { [K in keyof (Known & { [key: string]: Rest })]: (Known & { [key: string]: Rest })[K] };
`,
};

/** How {@link TypePrinter.print} writes a type. */
export interface PrintOptions {
  /**
   * Write a `.catchall()` object whose known properties do not all fit its index signature as a plain object type
   * whose index signature takes the catch-all type and the type of every known property (`{ [key: string]: number |
   * string; ts: string }`), instead of zod's own type (the `Catchall` helper). zod's type is exact but no object
   * literal can be assigned to it (TypeScript checks a literal's known properties against the index signature of the
   * intersection too, TS2322); the looser one accepts literals and leaves the extra keys to the schema at run time.
   * For what enqueue accepts.
   */
  readonly looseCatchall?: boolean;
}

/** What {@link TypePrinter.print} wrote. */
export interface PrintedType {
  readonly text: string;
  /** Parts written as the zod type, in the order met. */
  readonly fallbacks: readonly Fallback[];
  readonly helpers: ReadonlySet<HelperType>;
}

/** Where the printer is: how to name the current part as an indexed access into the zod type, and for messages. */
interface Position {
  /** `z.input<…>['a'][number]`, or `undefined` when the part cannot be reached that way (inside a union member). */
  readonly ref: string | undefined;
  readonly path: string;
}

/** What one print call collects. */
interface Collected {
  readonly fallbacks: Fallback[];
  readonly helpers: Set<HelperType>;
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

  /**
   * The type as TypeScript source, starting at column `indent` for nested lines. `reference` is the zod type the
   * printed one must equal (`z.input<Definitions['job']['payload']>`): parts with no plain form are written as
   * indexed accesses into it. Throws {@link UnprintableType} when such a part cannot be reached that way.
   */
  print(type: ts.Type, docs: JsonSchemaNode | undefined, reference?: string, indent = '', options: PrintOptions = {}): PrintedType {
    const collected: Collected = { fallbacks: [], helpers: new Set() };
    this.collected = collected;
    this.looseCatchall = options.looseCatchall === true;
    const text = this.type(type, docs, indent, [], { ref: reference, path: '' });
    return { text, fallbacks: collected.fallbacks, helpers: collected.helpers };
  }

  private collected: Collected = { fallbacks: [], helpers: new Set() };
  private looseCatchall = false;

  private type(type: ts.Type, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[], at: Position): string {
    if (stack.length > MAX_DEPTH) throw new UnprintableType('the type is nested too deeply');
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return 'any';
    if (f & ts.TypeFlags.Unknown) return 'unknown';
    if (f & ts.TypeFlags.Never) return 'never';
    if (f & ts.TypeFlags.Void) return 'void';
    if (f & ts.TypeFlags.Undefined) return 'undefined';
    if (f & ts.TypeFlags.Null) return 'null';
    if (f & ts.TypeFlags.EnumLike) throw new UnprintableType(`it uses the enum ${this.enumName(type)}`);
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
    if (type.isUnion()) return this.union(type.types, docs, indent, stack, at);
    if (type.isIntersection()) {
      return type.types.map((t) => this.member(t, undefined, indent, stack, { ref: undefined, path: at.path })).join(' & ');
    }
    if (f & ts.TypeFlags.Object) return this.object(type as ts.ObjectType, docs, indent, stack, at);
    throw new UnprintableType(`it contains the type ${this.checker.typeToString(type)}`);
  }

  /** `Color` for the enum `Color` and for any of its members (`Color.Red`). */
  private enumName(type: ts.Type): string {
    const symbol = type.getSymbol();
    const parent = (symbol as { parent?: ts.Symbol } | undefined)?.parent;
    if (symbol !== undefined && symbol.getFlags() & ts.SymbolFlags.EnumMember && parent !== undefined) return parent.getName();
    if (type.isUnion()) {
      const names = new Set(type.types.map((t) => this.enumName(t)));
      if (names.size === 1) return [...names][0] as string;
    }
    return this.checker.typeToString(type);
  }

  /**
   * A union, with `true | false` shown as `boolean` and `null`/`undefined` last. An enum (a union of its members) is
   * one part. Each object member takes the descriptions and property order of the schema member it matches.
   */
  private union(types: readonly ts.Type[], docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[], at: Position): string {
    const parts: string[] = [];
    const tail: string[] = [];
    let sawBoolean = false;
    const hasTrue = types.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && (t as { intrinsicName?: string }).intrinsicName === 'true');
    const hasFalse = types.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && (t as { intrinsicName?: string }).intrinsicName === 'false');
    const members = docs?.anyOf ?? docs?.oneOf ?? [];
    const nonNull = types.filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
    // `T | null | undefined`: T can still be reached, as NonNullable<…>.
    const single = nonNull.length === 1 && at.ref !== undefined ? `NonNullable<${at.ref}>` : undefined;
    for (const t of types) {
      if (hasTrue && hasFalse && t.flags & ts.TypeFlags.BooleanLiteral) {
        if (!sawBoolean) parts.push('boolean');
        sawBoolean = true;
        continue;
      }
      if (t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)) tail.push(this.type(t, undefined, indent, stack, at));
      else {
        const memberDocs = members.length === 0 ? undefined : matchingMember(this.checker, t, members);
        parts.push(this.member(t, memberDocs, indent, stack, { ref: single, path: at.path }));
      }
    }
    return [...parts, ...tail].join(' | ');
  }

  /** A union or intersection member, parenthesized where precedence needs it. */
  private member(type: ts.Type, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[], at: Position): string {
    return parenthesize(type, this.type(type, docs, indent, stack, at));
  }

  private object(type: ts.ObjectType, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[], at: Position): string {
    if (stack.includes(type)) throw new UnprintableType('it is recursive');
    const inner = [...stack, type];
    const checker = this.checker;
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      const elementAt = { ref: at.ref === undefined ? undefined : `${at.ref}[number]`, path: `${at.path}[]` };
      const text = element === undefined ? 'unknown' : this.type(element, docs?.items, indent, inner, elementAt);
      const wrapped = element === undefined ? text : parenthesize(element, text);
      return `${type.getSymbol()?.getName() === 'ReadonlyArray' ? 'readonly ' : ''}${wrapped}[]`;
    }
    if (checker.isTupleType(type)) return this.tuple(type as ts.TupleTypeReference, indent, inner, at);
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      throw new UnprintableType(`it contains the function type ${checker.typeToString(type)}`);
    }
    const libName = this.libraryTypeName(type, indent, inner, at);
    if (libName !== undefined) return libName;

    const props = inSchemaOrder(checker.getPropertiesOfType(type), docs);
    const indexes = checker.getIndexInfosOfType(type);
    const [onlyIndex] = indexes;
    const valueAt = { ref: at.ref === undefined ? undefined : `${at.ref}[string]`, path: `${at.path}[key]` };
    if (props.length === 0 && indexes.length === 1 && onlyIndex !== undefined && !onlyIndex.isReadonly && onlyIndex.keyType.flags & ts.TypeFlags.String) {
      return `Record<string, ${this.type(onlyIndex.type, undefined, indent, inner, valueAt)}>`;
    }
    if (props.length === 0 && indexes.length === 0) return '{}';
    const nested = `${indent}  `;
    // zod's `.catchall(T)`: known properties beside a string index signature they do not all fit. TypeScript rejects
    // `{ [key: string]: T; known: K }` then (TS2411), so it is written as zod computes it, through a mapped type.
    const catchall =
      props.length > 0 && onlyIndex !== undefined && indexes.length === 1 && !onlyIndex.isReadonly && onlyIndex.keyType.flags & ts.TypeFlags.String &&
      props.some((p) => !checker.isTypeAssignableTo(checker.getTypeOfSymbol(p), onlyIndex.type));
    const lines: string[] = [];
    /** The known properties' types as written, for a loosened catch-all's index signature. */
    const known: string[] = [];
    if (!catchall) {
      for (const info of indexes) {
        const key = this.type(info.keyType, undefined, nested, inner, { ref: undefined, path: at.path });
        lines.push(`${nested}${info.isReadonly ? 'readonly ' : ''}[key: ${key}]: ${this.type(info.type, undefined, nested, inner, { ref: undefined, path: valueAt.path })};\n`);
      }
    }
    for (const prop of props) {
      const name = prop.getName();
      if (name.startsWith('__@')) throw new UnprintableType('it has a symbol-keyed property');
      const optional = (prop.getFlags() & ts.SymbolFlags.Optional) !== 0;
      const propAt: Position = { ref: at.ref === undefined ? undefined : `${at.ref}[${quote(name)}]`, path: at.path === '' ? name : `${at.path}.${name}` };
      let text: string;
      try {
        text = this.propertyType(prop, optional, docs, nested, inner, propAt);
      } catch (err) {
        // No plain form for this property: name it inside the zod type, so only it falls back.
        if (!(err instanceof UnprintableType) || propAt.ref === undefined) throw err;
        this.collected.fallbacks.push({ path: propAt.path, reason: err.message });
        text = propAt.ref;
      }
      // `T | undefined` of an optional property under exactOptionalPropertyTypes: `undefined` is added once below.
      known.push(optional && this.exactOptional && text.endsWith(' | undefined') ? text.slice(0, -' | undefined'.length) : text);
      lines.push(this.propertyLine(prop, optional, text, docs, nested));
    }
    if (catchall && this.looseCatchall && onlyIndex !== undefined) {
      // Extra keys may hold the catch-all type; the signature must also admit every known property (TS2411), and
      // `undefined` for an optional one (whatever exactOptionalPropertyTypes is where the file is compiled).
      const members = [this.type(onlyIndex.type, undefined, nested, inner, { ref: undefined, path: valueAt.path }), ...known];
      if (props.some((p) => (p.getFlags() & ts.SymbolFlags.Optional) !== 0)) members.push('undefined');
      const union = [...new Set(members)];
      const undefinedLast = [...union.filter((m) => m !== 'undefined'), ...union.filter((m) => m === 'undefined')];
      lines.unshift(`${nested}[key: string]: ${undefinedLast.join(' | ')};\n`);
    }
    const body = `{\n${lines.join('')}${indent}}`;
    if (!catchall || onlyIndex === undefined || this.looseCatchall) return body;
    this.collected.helpers.add('Catchall');
    return `Catchall<${body}, ${this.type(onlyIndex.type, undefined, indent, inner, { ref: undefined, path: valueAt.path })}>`;
  }

  /** A property's type; for an optional one without `exactOptionalPropertyTypes`, without its `undefined`. */
  private propertyType(prop: ts.Symbol, optional: boolean, docs: JsonSchemaNode | undefined, indent: string, stack: ts.Type[], at: Position): string {
    const propType = this.checker.getTypeOfSymbol(prop);
    const propDocs = docs?.properties?.[prop.getName()];
    if (optional && !this.exactOptional && propType.isUnion()) {
      const kept = propType.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
      // `T[key]` of an optional property includes undefined: what is left is NonNullable<…> of it.
      const keptAt = { ref: at.ref === undefined ? undefined : `NonNullable<${at.ref}>`, path: at.path };
      if (kept.length === 1 && kept[0] !== undefined) return this.type(kept[0], propDocs, indent, stack, keptAt);
      if (kept.length !== propType.types.length) return this.union(kept, propDocs, indent, stack, keptAt);
    }
    return this.type(propType, propDocs, indent, stack, at);
  }

  private propertyLine(prop: ts.Symbol, optional: boolean, typeText: string, docs: JsonSchemaNode | undefined, indent: string): string {
    const name = prop.getName();
    const doc = docComment(docs?.properties?.[name]?.description, indent);
    return `${doc}${indent}${isReadonly(prop) ? 'readonly ' : ''}${propertyKey(name)}${optional ? '?' : ''}: ${typeText};\n`;
  }

  private tuple(type: ts.TupleTypeReference, indent: string, stack: ts.Type[], at: Position): string {
    const target = type.target;
    const elements = this.checker.getTypeArguments(type).slice(0, target.elementFlags.length);
    const parts = elements.map((element, i) => {
      const flags = target.elementFlags[i] ?? ts.ElementFlags.Required;
      const reachable = at.ref !== undefined && flags & ts.ElementFlags.Required;
      const text = this.type(element, undefined, indent, stack, { ref: reachable ? `${at.ref}[${i}]` : undefined, path: `${at.path}[${i}]` });
      const wrapped = parenthesize(element, text);
      if (flags & ts.ElementFlags.Rest) return `...${wrapped}[]`;
      if (flags & ts.ElementFlags.Variadic) return `...${text}`;
      if (flags & ts.ElementFlags.Optional) return `${wrapped}?`;
      return text;
    });
    return `${target.readonly ? 'readonly ' : ''}[${parts.join(', ')}]`;
  }

  /** `Date`, `Map<string, number>`: types declared by the standard library are written by name. */
  private libraryTypeName(type: ts.ObjectType, indent: string, stack: ts.Type[], at: Position): string | undefined {
    const symbol = type.getSymbol();
    const declarations = symbol?.getDeclarations() ?? [];
    if (symbol === undefined || declarations.length === 0) return undefined;
    if (!declarations.every((d) => this.program.isSourceFileDefaultLibrary(d.getSourceFile()))) return undefined;
    if (symbol.getName().startsWith('__')) return undefined;
    const args =
      type.objectFlags & ts.ObjectFlags.Reference ? this.checker.getTypeArguments(type as ts.TypeReference) : [];
    if (args.length === 0) return symbol.getName();
    return `${symbol.getName()}<${args.map((a) => this.type(a, undefined, indent, stack, { ref: undefined, path: at.path })).join(', ')}>`;
  }
}

/** `A | B` and `A & B` need parentheses inside `T[]` and other unions; `boolean` (a union underneath) does not. */
function parenthesize(type: ts.Type, text: string): string {
  const compound = (type.isUnion() && !(type.flags & ts.TypeFlags.Boolean)) || type.isIntersection();
  return compound ? `(${text})` : text;
}

/**
 * The member of a schema union (its `anyOf` / `oneOf` entries) that describes the object member `type`: the entry
 * with exactly its property names, else the one sharing the most. Union members are held in the type checker's
 * order, not the schema's, so they are matched by shape.
 */
function matchingMember(checker: ts.TypeChecker, type: ts.Type, members: readonly JsonSchemaNode[]): JsonSchemaNode | undefined {
  if (!(type.flags & ts.TypeFlags.Object) || checker.isArrayType(type) || checker.isTupleType(type)) return undefined;
  const names = checker.getPropertiesOfType(type).map((p) => p.getName());
  if (names.length === 0) return undefined;
  let best: JsonSchemaNode | undefined;
  let bestScore = 0;
  for (const member of members) {
    const keys = Object.keys(member.properties ?? {});
    const shared = names.filter((n) => keys.includes(n)).length;
    const score = shared === names.length && keys.length === names.length ? Number.MAX_SAFE_INTEGER : shared;
    if (score > bestScore) {
      best = member;
      bestScore = score;
    }
  }
  return best;
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
