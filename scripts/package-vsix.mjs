// `npm run package`: dist/ bundles -> devmesh-<version>.vsix with @vscode/vsce
// from the e2e tools folder (test/e2e/tools, installed by its install.sh).
// The manifest's dependencies are not packed: the bundles already contain them.
// The package's README is extension/README.md (the repository README links
// screenshots by relative path, which vsce refuses without a repository URL).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const vsce = path.join(root, 'test/e2e/tools/node_modules/@vscode/vsce/vsce');
if (!existsSync(vsce)) {
  console.error('npm run package: @vscode/vsce is not installed; run test/e2e/tools/install.sh first');
  process.exit(2);
}
for (const f of ['dist/extension.js', 'dist/language-server.js', 'dist/webview.js', 'dist/webview.css']) {
  if (!existsSync(path.join(root, f))) { console.error(`npm run package: ${f} is missing (npm run build)`); process.exit(2); }
}
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.resolve(root, process.env.VSIX_OUT || `devmesh-${version}.vsix`);
// vsce 4 wants Node 22 or later; the tools folder has Node 24 for it and code-server.
const node24 = path.join(root, 'test/e2e/tools/node24/node_modules/node/bin/node');
const node = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : node24;
execFileSync(node, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--readme-path', 'extension/README.md', '--out', out], { cwd: root, stdio: 'inherit' });
console.log(`${path.relative(root, out)}: ${(statSync(out).size / 1024).toFixed(0)} KiB`);
