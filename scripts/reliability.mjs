// `npm run test:reliability [-- --long]`: the reliability suite (test/reliability/).
// Short mode is what `npm test` runs; --long runs the sizes recorded in
// RELIABILITY.md (a 10-minute soak among them) and appends each scenario's row
// to out/reliability-results.md.
import { spawnSync } from 'node:child_process';

const long = process.argv.includes('--long');
const env = { ...process.env, ...(long ? { RELIABILITY_LONG: '1' } : {}) };
const r = spawnSync(process.execPath, ['--test', 'out/test/reliability/'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
