type Hook = () => Promise<void> | void;

const hooks: { name: string; hook: Hook }[] = [];

/**
 * Registers work to run on graceful shutdown, after the HTTP server has drained
 * (flushing spans, syslog buffers). Hooks run in reverse order of registration.
 */
export function onShutdown(name: string, hook: Hook): void {
  hooks.push({ name, hook });
}

/**
 * Runs every shutdown hook once; a failing hook does not stop the others, nor does one that hangs:
 * with `timeoutMs`, a hook still running after it counts as failed and the next one starts.
 */
export async function runShutdownHooks(
  options: { timeoutMs?: number } = {},
): Promise<{ name: string; error: unknown }[]> {
  const failures: { name: string; error: unknown }[] = [];
  for (const { name, hook } of hooks.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const run = Promise.resolve().then(hook);
      if (options.timeoutMs === undefined) await run;
      else {
        const limit = options.timeoutMs;
        await Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not finish within ${limit} ms`)), limit);
          }),
        ]);
      }
    } catch (error) {
      failures.push({ name, error });
    } finally {
      clearTimeout(timer);
    }
  }
  return failures;
}
