type Hook = () => Promise<void> | void;

const hooks: { name: string; hook: Hook }[] = [];

/**
 * Registers work to run on graceful shutdown, after the HTTP server has drained
 * (flushing spans, syslog buffers). Hooks run in reverse order of registration.
 */
export function onShutdown(name: string, hook: Hook): void {
  hooks.push({ name, hook });
}

/** Runs every shutdown hook once; a failing hook does not stop the others. */
export async function runShutdownHooks(): Promise<{ name: string; error: unknown }[]> {
  const failures: { name: string; error: unknown }[] = [];
  for (const { name, hook } of hooks.splice(0).reverse()) {
    try {
      await hook();
    } catch (error) {
      failures.push({ name, error });
    }
  }
  return failures;
}
