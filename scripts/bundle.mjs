// Bundles what ships outside `out/`: the VS Code extension, its language
// server and the topology page. Entry points that do not exist yet are skipped.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const targets = [
  { entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', external: ['vscode'] },
  { entryPoints: ['language-server/main.ts'], outfile: 'dist/language-server.js', platform: 'node', format: 'cjs' },
  // elkjs's minified build carries no licence comment of its own; the page names what it bundles.
  { entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife',
    banner: { js: '/*! devmesh topology page. Bundles d3 (ISC, https://d3js.org) and elkjs (EPL-2.0, https://github.com/kieler/elkjs). */' } },
  { entryPoints: ['webview/style.css'], outfile: 'dist/webview.css' },
];

for (const t of targets) {
  if (!existsSync(t.entryPoints[0])) continue;
  await build({ bundle: true, minify: true, sourcemap: true, target: 'es2022', logLevel: 'warning', ...t });
}
