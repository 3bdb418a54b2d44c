// Runs under Node 24 (which @vscode/test-electron 3.x needs): runTests with the
// stand-in executable. argv: <extensionDevelopmentPath> <extensionTestsPath> <workspace>
import { createRequire } from 'node:module';
import path from 'node:path';

const [dev, tests, workspace] = process.argv.slice(2);
const tools = createRequire(path.resolve(import.meta.dirname, '..', 'tools', 'package.json'));
const { runTests } = tools('@vscode/test-electron');
try {
  await runTests({
    vscodeExecutablePath: path.resolve(import.meta.dirname, '..', 'stand-in', 'code.mjs'),
    extensionDevelopmentPath: dev,
    extensionTestsPath: tests,
    launchArgs: [workspace, '--disable-extensions'],
  });
  process.exit(0);
} catch (e) {
  console.error(String(e?.message ?? e));
  process.exit(1);
}
