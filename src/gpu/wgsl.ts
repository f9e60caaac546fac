// What the runtime reads from a WGSL module's own text, so that a binding or a uniform layout is
// declared once, in the shader: each `@group(0) @binding(n) var<…> name: T` (its slot and access),
// and the byte layout of the uniform structs (WGSL's alignment rules for host-shareable scalars and
// vectors). Dispatch code names the variables (src/gpu/runtime.ts KernelModule) and passes uniform
// values by field name; the runtime packs them at the offsets computed here.

export type BindingKind = 'uniform' | 'read' | 'rw';

export interface VarBinding {
  name: string;
  binding: number;
  kind: BindingKind;
  /** The declared store type: a struct name for a uniform, e.g. `array<f32>` for storage. */
  type: string;
}

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformField {
  name: string;
  scalar: ScalarType;
  /** 1 for a scalar, 2..4 for vecN (values are then passed as arrays). */
  width: number;
  /** Byte offset within the struct. */
  offset: number;
}

export interface StructLayout {
  name: string;
  fields: UniformField[];
  /** Struct size in bytes (rounded up to its alignment), what a binding must cover. */
  size: number;
}

const stripComments = (code: string): string => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');

/** Every group-0 resource variable of `code`. Throws when two variables share a slot. */
export function parseBindings(code: string, what = 'module'): Map<string, VarBinding> {
  const out = new Map<string, VarBinding>();
  const slots = new Map<number, string>();
  const re = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*(<[^>]*>)?\s*(\w+)\s*:\s*([^;]+);/g;
  for (const m of stripComments(code).matchAll(re)) {
    const [, group, slot, space = '', name, type] = m;
    if (group !== '0') throw new Error(`${what}: ${name} is in group ${group}; the runtime binds group 0 only`);
    const access = space.replace(/[<>\s]/g, '').split(',');
    const kind: BindingKind =
      access[0] === 'uniform' ? 'uniform' : access[0] === 'storage' ? (access[1] === 'read_write' ? 'rw' : 'read') : (() => {
        throw new Error(`${what}: ${name} has address space '${space}'; expected var<uniform> or var<storage, …>`);
      })();
    const binding = Number(slot);
    const other = slots.get(binding);
    if (other !== undefined) throw new Error(`${what}: @binding(${binding}) is declared twice (${other} and ${name}); give each variable its own slot`);
    if (out.has(name)) throw new Error(`${what}: variable ${name} is declared twice`);
    slots.set(binding, name);
    out.set(name, { name, binding, kind, type: type.trim() });
  }
  return out;
}

const SCALARS: Record<string, ScalarType> = { u32: 'u32', i32: 'i32', f32: 'f32' };

/** Size and alignment of a host-shareable uniform member type (scalars and vectors of 32-bit scalars). */
function memberType(t: string): { scalar: ScalarType; width: number; size: number; align: number } | null {
  const s = SCALARS[t];
  if (s) return { scalar: s, width: 1, size: 4, align: 4 };
  const v = /^vec([234])\s*<\s*(u32|i32|f32)\s*>$/.exec(t) ?? /^vec([234])([uif])$/.exec(t);
  if (!v) return null;
  const width = Number(v[1]);
  const scalar = (v[2].length === 1 ? { u: 'u32', i: 'i32', f: 'f32' }[v[2]] : v[2]) as ScalarType;
  return { scalar, width, size: 4 * width, align: width === 2 ? 8 : 16 };
}

/** The byte layout of `struct name { … }` in `code`, by WGSL's rules (offset = roundUp(align, end of previous)). */
export function structLayout(code: string, name: string): StructLayout {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(stripComments(code));
  if (!m) throw new Error(`struct ${name} not found`);
  const fields: UniformField[] = [];
  let end = 0;
  let align = 4;
  for (const decl of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
    const f = /^(\w+)\s*:\s*(.+)$/.exec(decl);
    if (!f) throw new Error(`struct ${name}: cannot read member '${decl}'`);
    const t = memberType(f[2].trim());
    if (!t) throw new Error(`struct ${name}: member ${f[1]} has type ${f[2]}; uniform structs here hold u32, i32, f32 and their vectors`);
    const offset = Math.ceil(end / t.align) * t.align;
    fields.push({ name: f[1], scalar: t.scalar, width: t.width, offset });
    end = offset + t.size;
    align = Math.max(align, t.align);
  }
  return { name, fields, size: Math.ceil(end / align) * align };
}

/** A field the dispatch code may leave out (it is written as 0): padding, named `pad` or `_…`. */
export const isPadding = (field: string): boolean => field === 'pad' || field.startsWith('_');
