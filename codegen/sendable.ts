/**
 * Finds the parts of a payload's input type that no enqueue call can ever fill. Jobs are stored as JSON, and the
 * runtime refuses a payload holding a value that would not come back the same (a Date, a BigInt, a Map …), so a
 * field whose input type is only such values (`z.date()`, `z.bigint()`) makes every well-typed call fail at run
 * time. Codegen refuses the schema instead, pointing at the field and saying what to write.
 */
import { ts } from './typescript.js';

/** One part of the input that cannot be sent. */
export interface UnsendablePart {
  /** Where in the payload: `timestamp`, `items[].at`, `pair[1]`, or `` for the payload itself. */
  readonly path: string;
  /** What it is and what to write instead. */
  readonly message: string;
  /**
   * The declaration of the property (or of the nearest property around an array element or record value), when the
   * type checker knows it: the `at: z.date()` in the schema.
   */
  readonly declaration: ts.Declaration | undefined;
}

/** What a kind of value is called, and the fix. */
const KINDS = {
  date: 'a Date, which does not survive JSON: accept a string instead, with z.coerce.date() (the handler still gets a Date) or z.iso.datetime() (an ISO string)',
  bigint: 'a BigInt, which JSON cannot hold: accept a string instead, with z.coerce.bigint() (the handler still gets a bigint) or z.string()',
  map: 'a Map, which does not survive JSON: use z.record(...) (a plain object) or an array of pairs',
  set: 'a Set, which does not survive JSON: use z.array(...)',
  symbol: 'a symbol, which JSON cannot hold: use a string',
  function: 'a function, which JSON cannot hold: send data, and let the handler choose what to run',
  undefined:
    'always undefined, which JSON cannot carry (a key set to undefined is dropped, an array element becomes null, a payload must be there): use z.null(), or .optional() for a field that may be left out',
  binary: 'binary data, which does not survive JSON: send it as a base64 string (z.base64())',
  instance: 'a class instance, which does not survive JSON: send its data as a plain object',
} as const;

type Kind = keyof typeof KINDS;

const BINARY = new Set([
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Buffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
]);
const BY_NAME: Readonly<Record<string, Kind>> = {
  Date: 'date',
  Map: 'map',
  ReadonlyMap: 'map',
  WeakMap: 'map',
  Set: 'set',
  ReadonlySet: 'set',
  WeakSet: 'set',
  RegExp: 'instance',
  Error: 'instance',
  Promise: 'instance',
};

/** A named interface or class declared only in declaration files (the standard library's `Date`, a package's types). */
function isDeclaredType(symbol: ts.Symbol): boolean {
  const declarations = symbol.getDeclarations() ?? [];
  return !symbol.getName().startsWith('__') && declarations.length > 0 && declarations.every((d) => d.getSourceFile().isDeclarationFile);
}

/**
 * Where a value sits: an optional property or a record value (where `undefined` means "absent", which JSON can say)
 * or a value that must be there (the payload itself, a required property — zod refuses a missing key even when its
 * schema accepts undefined —, an array or tuple element).
 */
type Place = 'property' | 'value';

/** Every part of `input` that no value can fill; parts inside such a part are not listed again. */
export function unsendableParts(input: ts.Type, checker: ts.TypeChecker): UnsendablePart[] {
  const found: UnsendablePart[] = [];
  const seen = new Set<ts.Type>();

  const kindOf = (type: ts.Type, place: Place): Kind | undefined => {
    const f = type.flags;
    if (f & (ts.TypeFlags.BigInt | ts.TypeFlags.BigIntLiteral)) return 'bigint';
    if (f & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) return 'symbol';
    if (f & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) return place === 'value' ? 'undefined' : undefined;
    if (!(f & ts.TypeFlags.Object)) return undefined;
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) return 'function';
    const symbol = type.getSymbol();
    if (symbol === undefined) return undefined;
    const name = symbol.getName();
    if (BINARY.has(name)) return 'binary';
    if (BY_NAME[name] !== undefined && isDeclaredType(symbol)) return BY_NAME[name];
    if (symbol.getFlags() & ts.SymbolFlags.Class) return 'instance';
    return undefined;
  };

  const visit = (type: ts.Type, path: string, place: Place, declaration: ts.Declaration | undefined): void => {
    const members = type.isUnion() ? type.types : [type];
    const candidates = place === 'property' ? members.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void))) : members;
    const kinds = candidates.map((t) => kindOf(t, place));
    if (candidates.length > 0 && kinds.every((k) => k !== undefined)) {
      const distinct = [...new Set(kinds as Kind[])];
      found.push({ path, message: distinct.map((k) => KINDS[k]).join('; or '), declaration });
      return;
    }
    // Some value fits here; look inside the ones that have parts.
    candidates.forEach((t, i) => {
      if (kinds[i] === undefined) inside(t, path, declaration);
    });
  };

  /** The parts of a value that can be sent; `declaration` is the nearest property's, for elements and values. */
  const inside = (type: ts.Type, path: string, declaration: ts.Declaration | undefined): void => {
    if (!(type.flags & ts.TypeFlags.Object) || seen.has(type)) return;
    // A named type from a declaration file (a library's interface): its members are not the payload's fields.
    const symbol = type.getSymbol();
    if (symbol !== undefined && isDeclaredType(symbol) && !checker.isArrayType(type) && !checker.isTupleType(type)) return;
    seen.add(type);
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      if (element !== undefined) visit(element, `${path}[]`, 'value', declaration);
      return;
    }
    if (checker.isTupleType(type)) {
      const tuple = type as ts.TupleTypeReference;
      checker.getTypeArguments(tuple).slice(0, tuple.target.elementFlags.length).forEach((element, i) => {
        const flags = tuple.target.elementFlags[i] ?? ts.ElementFlags.Required;
        visit(element, flags & ts.ElementFlags.Variable ? `${path}[]` : `${path}[${i}]`, 'value', declaration);
      });
      return;
    }
    for (const info of checker.getIndexInfosOfType(type)) visit(info.type, `${path}[key]`, 'property', declaration);
    for (const prop of checker.getPropertiesOfType(type)) {
      const name = prop.getName();
      const place = prop.getFlags() & ts.SymbolFlags.Optional ? 'property' : 'value';
      visit(checker.getTypeOfSymbol(prop), path === '' ? name : `${path}.${name}`, place, prop.getDeclarations()?.[0]);
    }
  };

  visit(input, '', 'value', undefined);
  return found;
}
