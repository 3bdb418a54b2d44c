/**
 * The browser dashboard: the topology page the VS Code webview shows, served
 * at the control API's root. The page and its bundle hold no data, so they
 * load without the token (a browser navigation cannot send a header); the page
 * then reads the token from the URL fragment — which browsers never send to a
 * server, so it stays out of access logs and Referer headers — and calls the
 * API with `Authorization: Bearer`. The CSP allows the one script by nonce and
 * network calls only back to this origin.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Router, type Response } from 'express';
import { contentSecurityPolicy, makeNonce, pageHtml } from '../../../webview/html';
import { DIST_DIR } from '../../shipped';

/** Where `npm run build` puts the page bundle: <package>/dist. */
export const DASHBOARD_DIR = process.env.DEVMESH_DASHBOARD_DIR || DIST_DIR;

const ASSETS: Record<string, { file: string; type: string }> = {
  '/dashboard/webview.js': { file: 'webview.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/webview.css': { file: 'webview.css', type: 'text/css; charset=utf-8' },
};

/** The link `devmesh up` prints and writes as `dashboardUrl`: opens the dashboard already authorised. */
export function dashboardUrl(apiUrl: string, token: string): string {
  return `${apiUrl}/#token=${encodeURIComponent(token)}`;
}

function common(res: Response): void {
  res.set({
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
}

export function dashboardRoutes(dir = DASHBOARD_DIR): Router {
  const router = Router();
  router.get(['/', '/dashboard', '/dashboard/'], (_req, res) => {
    common(res);
    if (!existsSync(path.join(dir, 'webview.js'))) {
      res.status(404).type('text/plain').send(`The dashboard is not built: no ${path.join(dir, 'webview.js')} (run npm run build).\n`);
      return;
    }
    const nonce = makeNonce((n) => randomBytes(n));
    const csp = { nonce, resourceSource: "'self'", connectSrc: "'self'" };
    res.set('Content-Security-Policy', `${contentSecurityPolicy(csp)}; frame-ancestors 'none'`);
    res.set('X-Frame-Options', 'DENY');
    res.type('html').send(pageHtml({ ...csp, scriptUri: '/dashboard/webview.js', styleUri: '/dashboard/webview.css', title: 'DevMesh dashboard' }));
  });
  for (const [route, asset] of Object.entries(ASSETS)) {
    router.get(route, (_req, res) => {
      common(res);
      let body: Buffer;
      try { body = readFileSync(path.join(dir, asset.file)); } catch {
        res.status(404).type('text/plain').send(`not built: ${asset.file} (run npm run build)\n`);
        return;
      }
      res.type(asset.type).send(body);
    });
  }
  return router;
}
