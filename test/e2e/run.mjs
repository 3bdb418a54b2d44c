// `npm run test:e2e`: compiles the end-to-end suite and runs it one file at a
// time (each starts real processes: devmesh up, chromium, the VS Code server).
// Tests whose tools are missing skip with a message saying what to install.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'test/e2e'], { cwd: root, stdio: 'inherit' });
const dir = path.join(root, 'out', 'e2e');
const only = process.argv.slice(2);
// Cheapest first: the page alone, the browser dashboard, the extension host, then the UI scenarios in code-server.
const order = ['page', 'dashboard', 'extension-host', 'code-server-ui', 'code-server-own-project'];
const files = readdirSync(dir).filter((f) => f.endsWith('.test.js'))
  .filter((f) => !only.length || only.some((o) => f.includes(o)))
  .sort((a, b) => order.findIndex((o) => a.startsWith(o)) - order.findIndex((o) => b.startsWith(o)))
  .map((f) => path.join(dir, f));
try {
  execFileSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: root, stdio: 'inherit' });
} catch {
  process.exit(1);
}
