import type { BanStyle } from './bans.ts';

/** Trouble an operator injects on purpose, to watch the platform cope. */
export interface Faults {
  /** Added to every answer's latency. */
  latencyMs: number;
  /** Share of board requests (0–1) answered 500 "Unexpected server error". */
  errorRate: number;
  /** How banned callers are answered (overrides BAN_STYLE while set). */
  banStyle: BanStyle | null;
  /** Many more cancellations and delays, and a disruption message on boards. */
  disruption: boolean;
}

export const NO_FAULTS: Faults = { latencyMs: 0, errorRate: 0, banStyle: null, disruption: false };
