import type { z } from 'zod';

/** The parts of a zod 4 schema the provider needs, read from its definition. */
export interface FieldShape {
  /** The innermost type: string, number, boolean, array, object, record, enum, literal, union. */
  kind: string;
  nullable: boolean;
  /** Accepts undefined: optional, or has a default. */
  optional: boolean;
  hasDefault: boolean;
  default?: unknown;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  /** Integer-only numbers. */
  integer?: boolean;
  /** An enum's values. */
  values?: string[];
}

type Def = {
  type: string;
  entries?: Record<string, string>;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  in?: z.ZodType;
  checks?: { _zod: { def: { check: string; format?: string } } }[];
  format?: string;
};
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Peels optional / nullable / default wrappers off a schema and reports what they said. */
export function walk(schema: z.ZodType): FieldShape {
  let s = schema;
  const out: FieldShape = { kind: '', nullable: false, optional: false, hasDefault: false };
  for (;;) {
    const d = defOf(s);
    if (d.type === 'optional') out.optional = true;
    else if (d.type === 'nullable') out.nullable = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      out.optional = true;
      if (!out.hasDefault) {
        out.hasDefault = true;
        out.default = structuredClone(
          typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue,
        );
      }
    } else if (d.type === 'pipe') {
      s = d.in!;
      continue;
    } else {
      out.kind = d.type;
      if (d.type === 'array') out.element = d.element;
      if (d.type === 'object') out.shape = d.shape;
      if (d.type === 'record') out.element = d.valueType;
      if (d.type === 'enum') out.values = Object.values(d.entries ?? {});
      if (d.type === 'number')
        out.integer = d.format === 'safeint' || (d.checks ?? []).some((c) => c._zod.def.format === 'safeint');
      return out;
    }
    s = d.innerType!;
  }
}
