/**
 * The page's HTML shell, the same for the VS Code webview and the browser
 * dashboard: no inline script or style, one script with a nonce, a CSP that
 * allows nothing else. The callers say where the bundle lives and what
 * `connect-src` is (none in VS Code — the host fetches; 'self' in a browser).
 */
export interface PageHtmlOptions {
  scriptUri: string;
  styleUri: string;
  nonce: string;
  /** Origin the script and style load from: the webview's cspSource, or 'self'. */
  resourceSource: string;
  connectSrc: string;
  title?: string;
}

export function contentSecurityPolicy(o: Pick<PageHtmlOptions, 'nonce' | 'resourceSource' | 'connectSrc'>): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${o.nonce}'`,
    `style-src ${o.resourceSource}`,
    `img-src ${o.resourceSource} data:`,
    `font-src ${o.resourceSource}`,
    `connect-src ${o.connectSrc}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function pageHtml(o: PageHtmlOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(o))}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeAttr(o.title ?? 'DevMesh topology')}</title>
<link rel="stylesheet" href="${escapeAttr(o.styleUri)}">
</head>
<body>
<script nonce="${escapeAttr(o.nonce)}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>
`;
}

/** 128 bits from a CSPRNG, base64 — CSP nonces must be unguessable and fresh per page. */
export function makeNonce(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(16);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}
