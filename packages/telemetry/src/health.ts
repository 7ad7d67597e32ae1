/** What `/readyz` says: ready, or why not (the body is sent as JSON with a 503). */
export type ReadinessState = { ready: true } | { ready: false; status: string; [key: string]: unknown };

/**
 * Liveness and readiness of one service. Readiness is off while starting and shutting down, and
 * whenever the service's own check says so (departures: while the upstream bans it).
 */
export class Health {
  #started = false;
  #shuttingDown = false;
  readonly #check: () => ReadinessState;

  constructor(check: () => ReadinessState = () => ({ ready: true })) {
    this.#check = check;
  }

  markStarted(): void {
    this.#started = true;
  }

  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  readiness(): ReadinessState {
    if (this.#shuttingDown) return { ready: false, status: 'shutting_down' };
    if (!this.#started) return { ready: false, status: 'starting' };
    return this.#check();
  }
}
