import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and outgoing call of one request needs to know. */
export interface RequestContext {
  requestId: string;
}

/** Carries the request context across awaits, timers and callbacks of one request. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The request ID of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
