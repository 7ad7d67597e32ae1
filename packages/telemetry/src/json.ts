/**
 * JSON for log records that never throws on what loggers get handed: BigInt as a string, Errors
 * with name, message and stack, and a real cycle as "[Circular]". Only the objects on the path
 * from the root are ancestors: an object met twice in sibling branches (`{ from: s, to: s }`)
 * is not a cycle and is written both times.
 */
export function safeStringify(value: unknown): string {
  // Most records (every access log line) are flat: one level of strings, numbers, booleans and
  // nulls, where nothing can go wrong. JSON.stringify without a replacer is several times faster,
  // and it gives the same text for them.
  if (isFlat(value)) return JSON.stringify(value);
  const ancestors: object[] = [];
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'bigint') return v.toString();
    const out = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
    if (typeof out === 'object' && out !== null) {
      while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
      if (ancestors.includes(out)) return '[Circular]';
      ancestors.push(out);
    }
    return out;
  });
}

function isFlat(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const type = typeof v;
    if (v !== null && type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined')
      return false;
  }
  return true;
}
