/**
 * Where the e2e tools are, and why a test must skip when they are not there:
 * `npm run test:e2e` on a machine without chromium or the tools folder
 * passes with a clear skip message instead of failing.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const TOOLS = path.join(REPO, 'test', 'e2e', 'tools');
export const NODE24_BIN = path.join(TOOLS, 'node24', 'node_modules', 'node', 'bin');
export const NODE24 = path.join(NODE24_BIN, 'node');
export const CODE_SERVER_DIR = path.join(TOOLS, 'node_modules', 'code-server');
export const VSCODE_SERVER_DIR = path.join(CODE_SERVER_DIR, 'lib', 'vscode');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO, 'test-artifacts');
export const DOCS = path.join(REPO, 'docs');

const INSTALL_HINT = 'install them with test/e2e/tools/install.sh (needs apt: chromium build-essential python3 pkg-config libkrb5-dev)';

export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM)) return `chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (!existsSync(path.join(REPO, 'dist', 'webview.js'))) return 'dist/webview.js is missing (npm run build)';
  return undefined;
}

export function editorSkipReason(): string | undefined {
  const b = browserSkipReason();
  if (b) return b;
  if (!existsSync(NODE24)) return `Node 24 for code-server not found in ${NODE24_BIN}; ${INSTALL_HINT}`;
  if (!existsSync(path.join(VSCODE_SERVER_DIR, 'out', 'server-main.js'))) return `code-server 4.139.1 not found in ${CODE_SERVER_DIR}; ${INSTALL_HINT}`;
  if (!existsSync(path.join(VSCODE_SERVER_DIR, 'node_modules', '@vscode', 'spdlog', 'build', 'Release', 'spdlog.node'))) return `code-server's native modules are not built; ${INSTALL_HINT}`;
  return undefined;
}

export function meshSkipReason(): string | undefined {
  if (!existsSync(path.join(REPO, 'out', 'simulator', 'control', 'runtime.js'))) return '`devmesh up` is not in this build yet (simulator/control/runtime.ts missing)';
  return undefined;
}

/**
 * NODE_PATH for a mesh that runs the demo from a temp copy (the harness's own, or one the
 * editor starts): the demo's gRPC hop needs grpc-js, which a copy finds only in the clone's node_modules.
 */
export function demoModulesEnv(): { NODE_PATH: string } {
  return { NODE_PATH: [path.join(REPO, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
}

/** Env for a tool that needs Node 24 first on PATH (code-server, @vscode/test-electron). */
export function node24Env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${NODE24_BIN}${path.delimiter}${process.env.PATH ?? ''}`, ...demoModulesEnv(), ...extra };
}

/**
 * Free ports from devmesh's own allocator (compiled by `npm run build`): drawn
 * below the kernel's ephemeral range and never twice, so a port handed to
 * code-server or a mesh is not taken by an outgoing connection meanwhile.
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports = require(path.join(REPO, 'out', 'simulator', 'control', 'ports.js')) as { freePorts(n: number): Promise<number[]> };
  return ports.freePorts(n);
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value, at most `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try { const v = await fn(); if (v !== undefined && v !== false) return v as T; } catch (e) { last = e; }
    await delay(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
}
