/**
 * Where devmesh's own files are at run time. tsc compiles every module into
 * `out/` beside its peers (a clone of the repository, the tests); the npm
 * package and the .vsix ship only esbuild bundles in `dist/` (`cli.js`,
 * `sidecar.js`, the page), built by scripts/bundle.mjs, which defines
 * DEVMESH_BUNDLE. A path relative to a module's own folder differs between
 * the two, so it is decided here, once.
 */
import * as path from 'node:path';

declare const DEVMESH_BUNDLE: boolean | undefined;

/** Whether this code runs from a bundle in dist/ rather than from tsc's out/ tree. */
export const BUNDLED = typeof DEVMESH_BUNDLE !== 'undefined' && DEVMESH_BUNDLE === true;

/** The package's dist/ folder: the page bundle the dashboard serves (and, shipped, the CLI and sidecar bundles). */
export const DIST_DIR = BUNDLED ? __dirname : path.join(__dirname, '..', '..', 'dist');

/** The sidecar process's entry, forked by the control plane. */
export const SIDECAR_MAIN = BUNDLED ? path.join(__dirname, 'sidecar.js') : path.join(__dirname, 'sidecar', 'main.js');
