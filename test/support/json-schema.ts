/**
 * JSON Schema for tests of the OpenAPI document: a strict ajv 2020 validator that knows the
 * document's own keywords, and fast-check arbitraries of the values a schema allows. The
 * arbitraries cover the subset the document uses (types, enums, const, patterns, bounds,
 * lengths, required and optional properties, `additionalProperties: false`, anyOf, allOf, $ref);
 * anything else throws, so a new construct in the document fails loudly instead of being fuzzed
 * wrongly.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';

/** A JSON Schema object as the document holds it. */
export type Schema = Record<string, unknown>;

const COMPONENT_REF = '#/components/schemas/';
const componentId = (name: string) => `urn:component:${name}`;

/**
 * `schema` as the validator compiles it: every `#/components/schemas/X` reference points at the
 * ajv schema of X, and `multipleOf` is checked in decimal (see `isDecimalMultiple`).
 */
function retarget(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(retarget);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) {
        return [key, componentId(value.slice(COMPONENT_REF.length))];
      }
      return [key === 'multipleOf' ? DECIMAL_MULTIPLE : key, retarget(value)];
    }),
  );
}

const DECIMAL_MULTIPLE = 'x-decimalMultipleOf';

/** A number's decimal value (its shortest form, as JSON writes it) as digits × 10^-places. */
function scaled(value: number): { digits: bigint; places: number } {
  const [mantissa = '0', exponent = '0'] = String(value).toLowerCase().split('e');
  const [whole = '0', fraction = ''] = mantissa.split('.');
  const places = fraction.length - Number(exponent);
  const digits = BigInt(whole + fraction);
  return places >= 0 ? { digits, places } : { digits: digits * 10n ** BigInt(-places), places: 0 };
}

/**
 * `multipleOf` as JSON Schema means it, on the number's decimal value: ajv's float division
 * calls 5e-324 a multiple of 0.01, or (without a tolerance) refuses 12.5.
 */
function isDecimalMultiple(step: number, value: number): boolean {
  const a = scaled(value);
  const b = scaled(step);
  const places = Math.max(a.places, b.places);
  const lift = (n: { digits: bigint; places: number }) =>
    n.digits * 10n ** BigInt(places - n.places);
  return lift(a) % lift(b) === 0n;
}

/** Length in UTF-16 code units, as `x-maxUtf16Length` counts (and as the server does). */
const utf16Length = (value: string) => value.length;

/**
 * A strict ajv 2020 validator holding the document's component schemas: unknown keywords and
 * formats are errors, `x-maxUtf16Length` is a real check, patterns run in Unicode mode.
 */
export function documentValidator(components: Record<string, Schema>) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: DECIMAL_MULTIPLE,
    type: 'number',
    schemaType: 'number',
    validate: isDecimalMultiple,
  });
  ajv.addKeyword({
    keyword: 'x-maxUtf16Length',
    type: 'string',
    schemaType: 'number',
    validate: (max: number, data: string) => utf16Length(data) <= max,
  });
  for (const [name, schema] of Object.entries(components)) {
    ajv.addSchema({ ...(retarget(schema) as Schema), $id: componentId(name) });
  }
  const compiled = new Map<string, ValidateFunction>();
  return {
    /** Compiles `schema` (references to components allowed); throws when it is not valid. */
    compile(schema: Schema): ValidateFunction {
      const key = JSON.stringify(schema);
      let validate = compiled.get(key);
      if (!validate) {
        validate = ajv.compile(retarget(schema) as Schema);
        compiled.set(key, validate);
      }
      return validate;
    },
    errorsText: (validate: ValidateFunction) => ajv.errorsText(validate.errors),
  };
}

/** The validator `documentValidator` builds. */
export type DocumentValidator = ReturnType<typeof documentValidator>;

/** Every character a string may hold: ASCII often, the rest of Unicode (astral too) sometimes. */
const anyCharacter = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

/** Not encodable as UTF-8, so no JSON text or URL a client sends can hold one. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Instants at the ends of what a date-time can say; the schema's patterns keep those it allows. */
const DATE_TIME_EDGES = ['0000', '0001', '0999', '1000', '1969', '1970', '9998', '9999'].flatMap(
  (year) => [
    `${year}-01-01T00:00:00Z`,
    `${year}-01-01T00:00:00+23:59`,
    `${year}-12-31T23:59:59.999999-23:59`,
  ],
);

function stringArbitrary(schema: Schema, patterns: string[]): fc.Arbitrary<string> {
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const maxLength = Math.min(
    typeof schema.maxLength === 'number' ? schema.maxLength : 40,
    typeof schema['x-maxUtf16Length'] === 'number' ? schema['x-maxUtf16Length'] : Infinity,
  );
  const regexes = patterns.map((pattern) => new RegExp(pattern, 'u'));
  const [first] = regexes;
  // Short strings mostly, the longest allowed now and then: bounds are where rules break.
  const length = fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: minLength, max: Math.min(maxLength, 20) }) },
    { weight: 1, arbitrary: fc.constant(maxLength) },
  );
  const free = length.chain((size) =>
    fc
      .array(anyCharacter, { minLength: size, maxLength: size })
      .map((units) => units.join('').slice(0, maxLength)),
  );
  const fits = (value: string) =>
    !LONE_SURROGATE.test(value) &&
    [...value].length >= minLength &&
    [...value].length <= maxLength &&
    utf16Length(value) <= maxLength &&
    regexes.every((regex) => regex.test(value));
  // A pattern is the shape; free text still finds what a pattern generator never writes
  // (non-ASCII, astral characters, odd white space) wherever the pattern allows it.
  const shaped = first
    ? fc.oneof(
        { weight: 3, arbitrary: fc.stringMatching(first, { maxLength }) },
        { weight: 1, arbitrary: free },
      )
    : free;
  const candidates =
    schema.format === 'date-time'
      ? fc.oneof(
          { weight: 1, arbitrary: shaped },
          { weight: 1, arbitrary: fc.constantFrom(...DATE_TIME_EDGES) },
        )
      : shaped;
  return candidates.filter(fits);
}

/** Decimal places of a `multipleOf` such as 0.01. */
const placesOf = (step: number) => (String(step).split('.')[1] ?? '').length;

function numberArbitrary(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const exclusiveMin = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : null;
  const exclusiveMax = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : null;
  const min = typeof schema.minimum === 'number' ? schema.minimum : (exclusiveMin ?? -1e6);
  const max = typeof schema.maximum === 'number' ? schema.maximum : (exclusiveMax ?? 1e6);
  const inside = (value: number) =>
    (exclusiveMin === null || value > exclusiveMin) &&
    (exclusiveMax === null || value < exclusiveMax);
  const step = typeof schema.multipleOf === 'number' ? schema.multipleOf : integer ? 1 : null;
  if (step !== null) {
    const places = placesOf(step);
    const scale = 10 ** places;
    const lowest = Math.ceil(min / step - 1e-9);
    const highest = Math.floor(max / step + 1e-9);
    const steps = fc.oneof(
      fc.integer({ min: lowest, max: highest }),
      fc.constantFrom(lowest, lowest + 1, highest),
    );
    return steps.map((k) => Math.round(k * step * scale) / scale).filter(inside);
  }
  return fc
    .oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(min, max))
    .filter(inside);
}

/** Schemas that `allOf` combines, merged into one (their patterns kept as a list). */
function merged(
  schema: Schema,
  resolve: (ref: string) => Schema,
): { schema: Schema; patterns: string[] } {
  const patterns: string[] = [];
  const into: Schema = {};
  const add = (part: Schema) => {
    const real = typeof part.$ref === 'string' ? resolve(part.$ref) : part;
    for (const [key, value] of Object.entries(real)) {
      if (key === 'allOf') (value as Schema[]).forEach(add);
      else if (key === 'pattern') patterns.push(value as string);
      else into[key] = value;
    }
  };
  add(schema);
  return { schema: into, patterns };
}

/** Keywords the arbitraries understand; `pattern`, `allOf` and `$ref` are merged away first. */
const KNOWN = new Set([
  'description',
  'examples',
  'default',
  'format',
  'x-maxUtf16Length',
  'type',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'anyOf',
  'minProperties',
  'propertyNames',
]);

/**
 * The values `schema` allows, as fast-check generates them. `resolve` turns a `$ref` into its
 * schema. Formats are not generated (a pattern beside them does the work); callers that need
 * exactness filter with the validator.
 */
export function arbitraryOf(
  schema: Schema,
  resolve: (ref: string) => Schema,
): fc.Arbitrary<unknown> {
  const { schema: flat, patterns } = merged(schema, resolve);
  const unknown = Object.keys(flat).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw new Error(`no arbitrary for the keywords ${unknown.join(', ')}`);
  if (Array.isArray(flat.enum)) return fc.constantFrom(...(flat.enum as unknown[]));
  if ('const' in flat) return fc.constant(flat.const);
  if (Array.isArray(flat.anyOf)) {
    return fc.oneof(...(flat.anyOf as Schema[]).map((part) => arbitraryOf(part, resolve)));
  }
  switch (flat.type) {
    case 'string':
      return stringArbitrary(flat, patterns);
    case 'integer':
      return numberArbitrary(flat, true);
    case 'number':
      return numberArbitrary(flat, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = flat.items ? arbitraryOf(flat.items as Schema, resolve) : fc.constant(null);
      return fc.array(items, {
        minLength: typeof flat.minItems === 'number' ? flat.minItems : 0,
        maxLength: typeof flat.maxItems === 'number' ? flat.maxItems : 5,
      });
    }
    case 'object': {
      const properties = (flat.properties ?? {}) as Record<string, Schema>;
      const other = flat.additionalProperties;
      if (other !== false && (typeof other !== 'object' || other === null)) {
        throw new Error('no arbitrary for objects that allow any other property');
      }
      const named = fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([name, part]) => [name, arbitraryOf(part, resolve)]),
        ),
        { requiredKeys: (flat.required ?? []) as string[] },
      );
      // A map (`z.record`): keys from `propertyNames`, values from `additionalProperties`.
      const keys = flat.propertyNames
        ? (arbitraryOf(flat.propertyNames as Schema, resolve) as fc.Arbitrary<string>)
        : fc.string();
      const record =
        other === false
          ? named
          : fc
              .tuple(
                named,
                fc.dictionary(keys, arbitraryOf(other as Schema, resolve), { maxKeys: 4 }),
              )
              .map(([fixed, extra]) => ({ ...extra, ...fixed }));
      const least = typeof flat.minProperties === 'number' ? flat.minProperties : 0;
      return least > 0
        ? record.filter((value) => Object.keys(value as object).length >= least)
        : record;
    }
    default:
      throw new Error(`no arbitrary for the schema ${JSON.stringify(schema).slice(0, 200)}`);
  }
}
