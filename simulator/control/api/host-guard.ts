/**
 * Refuses requests whose Host header is not this API's loopback address.
 * A web page on evil.example can rebind its DNS name to 127.0.0.1 and make a
 * browser talk to us; the browser still sends `Host: evil.example`, which is
 * how the rebinding is recognised (the same check Jupyter and webpack-dev-server do).
 */
import type { RequestHandler } from 'express';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Whether a Host header names loopback with exactly our port. Pure. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const h = host.trim().toLowerCase();
  return LOOPBACK_NAMES.some((name) => h === `${name}:${port}`);
}

export function hostGuard(getPort: () => number): RequestHandler {
  return (req, res, next) => {
    if (isLoopbackHost(req.headers.host, getPort())) return next();
    res.status(403).json({ error: 'forbidden-host', message: `Host ${JSON.stringify(req.headers.host ?? '')} is not this API's loopback address; use http://127.0.0.1:${getPort()}` });
  };
}
