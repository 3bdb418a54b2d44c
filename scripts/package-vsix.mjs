// `npm run package`: the .vsix, with @vscode/vsce from the e2e tools folder
// (test/e2e/tools, installed by its install.sh). The extension is self-contained:
// besides its own bundle, the language server and the page, it carries the CLI
// and the sidecar (dist/cli.js, dist/sidecar.js, started by bin/devmesh.js with
// the editor's own Node), so Start Mesh needs nothing installed in the workspace.
// vsce refuses a manifest with a `files` list (the npm package's) next to a
// .vscodeignore, so the .vsix is packed from a staging folder holding exactly
// the files below and the manifest without the npm-only fields.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const vsce = path.join(root, 'test/e2e/tools/node_modules/@vscode/vsce/vsce');
if (!existsSync(vsce)) {
  console.error('npm run package: @vscode/vsce is not installed; run test/e2e/tools/install.sh first');
  process.exit(2);
}
/** What the .vsix holds: source path -> path in the extension. */
const SHIPPED = {
  'dist/extension.js': 'dist/extension.js',
  'dist/language-server.js': 'dist/language-server.js',
  'dist/webview.js': 'dist/webview.js',
  'dist/webview.css': 'dist/webview.css',
  'dist/cli.js': 'dist/cli.js',
  'dist/sidecar.js': 'dist/sidecar.js',
  // What the sidecar requires on first use (scripts/bundle.mjs).
  'dist/sidecar-jose.js': 'dist/sidecar-jose.js',
  'dist/sidecar-prom-client.js': 'dist/sidecar-prom-client.js',
  'dist/sidecar-protobufjs.js': 'dist/sidecar-protobufjs.js',
  'dist/THIRD-PARTY-NOTICES.txt': 'dist/THIRD-PARTY-NOTICES.txt',
  'bin/devmesh.js': 'bin/devmesh.js',
  'media/devmesh.svg': 'media/devmesh.svg',
  // The repository README links screenshots by relative path, which vsce refuses without a repository URL.
  'extension/README.md': 'README.md',
  LICENSE: 'LICENSE',
};
for (const f of Object.keys(SHIPPED)) {
  if (!existsSync(path.join(root, f))) { console.error(`npm run package: ${f} is missing (npm run build)`); process.exit(2); }
}
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.resolve(root, process.env.VSIX_OUT || `devmesh-${manifest.version}.vsix`);
const stage = mkdtempSync(path.join(os.tmpdir(), 'devmesh-vsix-stage-'));
try {
  for (const [from, to] of Object.entries(SHIPPED)) {
    mkdirSync(path.dirname(path.join(stage, to)), { recursive: true });
    copyFileSync(path.join(root, from), path.join(stage, to));
  }
  const { files: _files, scripts: _scripts, devDependencies: _dev, ...extension } = manifest;
  writeFileSync(path.join(stage, 'package.json'), JSON.stringify(extension, null, 2) + '\n');
  writeFileSync(path.join(stage, '.vscodeignore'), '# The staging folder holds exactly what the .vsix ships.\n');
  // vsce 4 wants Node 22 or later; the tools folder has Node 24 for it and code-server.
  const node24 = path.join(root, 'test/e2e/tools/node24/node_modules/node/bin/node');
  const node = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : node24;
  execFileSync(node, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--out', out], { cwd: stage, stdio: 'inherit' });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
console.log(`${path.relative(root, out)}: ${(statSync(out).size / 1024).toFixed(0)} KiB`);
