// Small helpers shared across the module (ES5, no built-in prototype methods).

/** A shallow copy of `base` with the defined fields of `over` on top. */
export function merge<T>(base: T, over?: Partial<T>): T {
  var out = {} as T;
  var k: string;
  for (k in base) (out as any)[k] = (base as any)[k];
  if (over) for (k in over) if ((over as any)[k] !== undefined) (out as any)[k] = (over as any)[k];
  return out;
}
