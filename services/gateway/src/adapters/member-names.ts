import { createHash } from 'node:crypto';

/** A departures replica as the gateway is told about it: the name boards show, the URL it is reached at. */
export interface MemberAddress {
  name: string;
  url: string;
}

/**
 * The name of the `index`th (from 0) unnamed entry of DEPARTURES_URLS: departures-a … departures-z,
 * then departures-27, departures-28, … Boards show it instead of an address.
 */
export function staticMemberName(index: number): string {
  return index < 26 ? `departures-${String.fromCharCode(97 + index)}` : `departures-${index + 1}`;
}

/**
 * The name of a replica found by DNS (a pod IP): `departures-` and 8 hex digits of SHA-256 of its
 * URL. A records carry no pod names; a digest of the URL is the same on every gateway replica and
 * across restarts, for as long as the pod keeps its IP, and does not print the pod IP on public
 * boards (it hides the address from a casual reader, it is no secret: pod CIDRs are small).
 */
export function dnsMemberName(url: string): string {
  return `departures-${createHash('sha256').update(url).digest('hex').slice(0, 8)}`;
}
