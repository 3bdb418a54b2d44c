#!/usr/bin/env node
'use strict';
// Thin launcher. In a clone of the repository the CLI is tsc's out/ (what the
// tests run); the npm package and the .vsix ship only the bundle dist/cli.js.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const entry = [path.join(root, 'out', 'simulator', 'cli.js'), path.join(root, 'dist', 'cli.js')].find((f) => fs.existsSync(f));
if (!entry) {
  process.stderr.write('devmesh: not built yet — run `npm run build` in ' + root + '\n');
  process.exit(2);
}
require(entry).main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write('devmesh: ' + (err && err.stack || err) + '\n'); process.exitCode = 1; },
);
