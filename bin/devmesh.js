#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled from simulator/cli.ts into out/.
const path = require('path');
const entry = path.join(__dirname, '..', 'out', 'simulator', 'cli.js');
try {
  require.resolve(entry);
} catch {
  process.stderr.write('devmesh: not built yet — run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(2);
}
require(entry).main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write('devmesh: ' + (err && err.stack || err) + '\n'); process.exitCode = 1; },
);
