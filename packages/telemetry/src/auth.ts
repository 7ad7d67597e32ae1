import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from './errors.ts';

/** The scheme is case-insensitive (RFC 9110 §11.1): `bearer x` and `BEARER x` are `Bearer x`. */
const BEARER = /^bearer +(\S.*)$/i;

/**
 * Requires `Authorization: Bearer <token>`, compared in constant time; anything else is a 401
 * problem+json with a `WWW-Authenticate` challenge.
 */
export function bearerAuth(token: string, realm: string): RequestHandler {
  const expected = Buffer.from(token);
  return (req, _res, next) => {
    const given = Buffer.from(BEARER.exec(req.get('authorization') ?? '')?.[1] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      next(
        new AppError({
          status: 401,
          code: 'unauthorized',
          title: 'Unauthorized',
          detail: 'this admin API needs the header Authorization: Bearer <ADMIN_TOKEN>',
          headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` },
        }),
      );
      return;
    }
    next();
  };
}
