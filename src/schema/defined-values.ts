/**
 * The entries of `obj` whose value is not undefined: an option given as undefined then takes its default when spread
 * over defaults.
 */
export function definedValues<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
