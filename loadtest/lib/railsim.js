// rail-sim's admin API: bans (with their history) and injected faults.

import http from 'k6/http';
import { config } from './config.js';
import { admin, json } from './http.js';

const url = (path) => `${config.railsimUrl}/admin${path}`;

/** {active, history} of rail-sim's bans; each ban {ip, reason, since, until, liftedAt?}. */
export function bans() {
  const res = admin('GET', url('/bans'));
  const body = json(res);
  if (res.status !== 200 || !body) throw new Error(`GET ${url('/bans')} answered ${res.status || res.error}`);
  return body;
}

/** A key that tells one ban from another in the history. */
export const banKey = (ban) => `${ban.ip}@${ban.since}`;

export function ban(ip, seconds) {
  return admin('POST', url('/bans'), { ip, seconds });
}

/** Lifts the ban of `ip`; a 404 (not banned) is not a failure. */
export function lift(ip) {
  return admin('DELETE', url(`/bans/${ip}`), undefined, {
    responseCallback: http.expectedStatuses(200, 404),
  });
}

export function setFaults(faults) {
  return admin('POST', url('/faults'), faults);
}

export function clearFaults() {
  return admin('DELETE', url('/faults'));
}
