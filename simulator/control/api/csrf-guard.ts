/**
 * State-changing requests (anything but GET/HEAD/OPTIONS) must not come from
 * another site. Browsers mark cross-site requests with `Sec-Fetch-Site` and
 * `Origin`; a request with either pointing elsewhere is refused even though
 * the bearer token already makes forging hard — defence in depth, because a
 * token can end up in a page (the dashboard) that a rebinding attack reaches.
 */
import type { RequestHandler } from 'express';
import { isLoopbackHost } from './host-guard';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why a request is cross-site, or undefined when it is not. Pure. */
export function crossSiteReason(method: string, headers: { origin?: string; 'sec-fetch-site'?: string }, port: number): string | undefined {
  if (SAFE_METHODS.has(method.toUpperCase())) return undefined;
  const site = headers['sec-fetch-site'];
  // `none` is the user typing/bookmarking; `same-origin` is our own dashboard.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${site}`;
  const origin = headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try { const u = new URL(origin); host = u.protocol === 'http:' ? u.host : undefined; } catch { host = undefined; }
    if (!isLoopbackHost(host, port)) return `Origin ${origin} is not this API`;
  }
  return undefined;
}

export function csrfGuard(getPort: () => number): RequestHandler {
  return (req, res, next) => {
    const reason = crossSiteReason(req.method, req.headers as { origin?: string; 'sec-fetch-site'?: string }, getPort());
    if (!reason) return next();
    res.status(403).json({ error: 'cross-site-request', message: `refused a cross-site ${req.method}: ${reason}` });
  };
}
