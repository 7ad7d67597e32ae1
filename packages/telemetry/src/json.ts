/**
 * JSON for log records that never throws on what loggers get handed: BigInt as a string, Errors
 * with name, message and stack, and a real cycle as "[Circular]". Only the objects on the path
 * from the root are ancestors: an object met twice in sibling branches (`{ from: s, to: s }`)
 * is not a cycle and is written both times.
 */
export function safeStringify(value: unknown): string {
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
