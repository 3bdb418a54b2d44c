/**
 * Every API route needs `Authorization: Bearer <session token>` (the token is
 * in `.devmesh/session.json`, readable only by the user who ran `devmesh up`).
 * Another local user or a browser page cannot read that file, so they cannot
 * drive the mesh. The comparison is constant-time over fixed-length digests,
 * so neither the token's content nor its length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether an Authorization header carries exactly this token. Pure. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const given = m ? m[1] : '';
  // Always compare (even when absent) so a missing header costs the same time.
  return timingSafeEqual(digest(given), digest(token)) && m !== null;
}

export function tokenAuth(token: string): RequestHandler {
  return (req, res, next) => {
    if (bearerMatches(req.headers.authorization, token)) return next();
    res.status(401).set('WWW-Authenticate', 'Bearer realm="devmesh"').json({
      error: 'unauthorized',
      message: 'missing or wrong session token: send `Authorization: Bearer <token>` with the token from .devmesh/session.json beside the Mesh file',
    });
  };
}
