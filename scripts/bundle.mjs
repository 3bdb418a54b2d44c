// Bundles what ships outside `out/`: the VS Code extension, its language
// server, the topology page, and the `devmesh` CLI with its sidecar — the CLI
// and the sidecar are what the npm package and the .vsix run (bin/devmesh.js
// falls back to dist/cli.js where there is no out/). They are bundled from
// tsc's output, so they hold exactly the code the tests run; DEVMESH_BUNDLE
// tells simulator/shipped.ts that the sidecar and the page sit beside them.
// Every bundled third-party package is listed, with its license, in
// dist/THIRD-PARTY-NOTICES.txt. Entry points that do not exist yet are skipped.
import { build } from 'esbuild';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bundled = { DEVMESH_BUNDLE: 'true' };
// Packages a sidecar runs only on a rare path — jose at the first JWT signature
// check, prom-client at the first scrape, protobufjs at the first ext-authz gRPC
// call — are files of their own beside dist/sidecar.js, required at first use
// as from out/. They were 38 % of the bundle, and a sidecar process of the one
// big script measured 2.7 MB more RSS idle and 3.6 MB more at its peak under
// load (malloc +4 MB; issue 19, BENCHMARKS.md "mem11 branch").
const sidecarLazy = { jose: 'sidecar-jose.js', 'prom-client': 'sidecar-prom-client.js', protobufjs: 'sidecar-protobufjs.js' };
const lazyPackages = {
  name: 'sidecar-lazy-packages',
  setup(b) {
    b.onResolve({ filter: /^(jose|prom-client|protobufjs)$/ }, (a) => ({ path: `./${sidecarLazy[a.path]}`, external: true }));
  },
};
const targets = [
  { entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', external: ['vscode'] },
  { entryPoints: ['language-server/main.ts'], outfile: 'dist/language-server.js', platform: 'node', format: 'cjs' },
  { entryPoints: ['out/simulator/cli.js'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs', define: bundled },
  { entryPoints: ['out/simulator/sidecar/main.js'], outfile: 'dist/sidecar.js', platform: 'node', format: 'cjs', define: bundled, plugins: [lazyPackages] },
  ...Object.entries(sidecarLazy).map(([pkg, file]) => ({ entryPoints: [pkg], outfile: `dist/${file}`, platform: 'node', format: 'cjs' })),
  // elkjs's minified build carries no licence comment of its own; the page names what it bundles.
  { entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife',
    banner: { js: '/*! devmesh topology page. Bundles d3 (ISC, https://d3js.org) and elkjs (EPL-2.0, https://github.com/kieler/elkjs). */' } },
  { entryPoints: ['webview/style.css'], outfile: 'dist/webview.css' },
];

const packages = new Map();
for (const t of targets) {
  if (!existsSync(path.join(root, t.entryPoints[0])) && !(t.entryPoints[0] in sidecarLazy)) continue;
  const result = await build({
    absWorkingDir: root, bundle: true, minify: true, keepNames: true, sourcemap: true, target: 'es2022',
    metafile: true, logLevel: 'warning', ...t,
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const dir = packageDir(input);
    if (dir) packages.set(dir, true);
  }
}
writeFileSync(path.join(root, 'dist', 'THIRD-PARTY-NOTICES.txt'), notices([...packages.keys()]));

/** node_modules/<name> or node_modules/@scope/<name> of a bundled file (the innermost one). */
function packageDir(file) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file.split(path.sep).join('/'));
  return m ? m[1] : undefined;
}

/** The name, version, license and license text of every bundled package. */
function notices(dirs) {
  const entries = dirs.map((dir) => {
    const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(path.join(root, dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    return {
      id: `${pkg.name}@${pkg.version}`,
      license: typeof pkg.license === 'string' ? pkg.license : pkg.license?.type ?? 'see the package',
      text: licenseFile ? readFileSync(path.join(root, dir, licenseFile), 'utf8').trim() : `(no license file in the package; its package.json says ${pkg.license ?? 'nothing'})`,
    };
  }).sort((a, b) => a.id.localeCompare(b.id));
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()];
  return [
    'devmesh bundles the following third-party packages into dist/ (the CLI, the sidecar, the',
    'language server, the VS Code extension and the topology page). Their licenses follow.',
    '',
    ...unique.map((e) => `- ${e.id} (${e.license})`),
    '',
    ...unique.map((e) => `${'='.repeat(78)}\n${e.id} (${e.license})\n${'='.repeat(78)}\n${e.text}\n`),
  ].join('\n');
}
