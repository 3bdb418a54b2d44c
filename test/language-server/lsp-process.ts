/**
 * A minimal JSON-RPC client for a language server started as a child
 * process over stdio: Content-Length framing, requests with timeouts, and
 * waiting for notifications. Used by the protocol tests and bench/lsp.ts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');

interface Message { jsonrpc: '2.0'; id?: number; method?: string; params?: any; result?: any; error?: { code: number; message: string } }

export class LspProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners: ((m: Message) => void)[] = [];
  /** Answers to requests the server sends (e.g. workspace/configuration); others get null. */
  readonly handlers = new Map<string, (params: any) => unknown>();
  readonly notifications: Message[] = [];
  stderr = '';

  constructor(command: string, args: string[], options: { cwd?: string } = {}) {
    this.child = spawn(command, args, { cwd: options.cwd ?? REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    this.child.on('exit', () => {
      for (const [, w] of this.waiting) { clearTimeout(w.timer); w.reject(new Error(`server exited; stderr: ${this.stderr.slice(-2000)}`)); }
      this.waiting.clear();
    });
  }

  /** `node bin/devmesh.js lsp --stdio` from this checkout. */
  static devmesh(): LspProcess {
    return new LspProcess(process.execPath, [path.join(REPO, 'bin', 'devmesh.js'), 'lsp', '--stdio']);
  }

  request<T = any>(method: string, params: unknown, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  /** Resolves with the first notification (already received or future) that satisfies `match`. */
  waitFor(method: string, match: (params: any) => boolean = () => true, timeoutMs = 10_000, since = 0): Promise<any> {
    const seen = this.notifications.slice(since).find((m) => m.method === method && match(m.params));
    if (seen) return Promise.resolve(seen.params);
    return new Promise((resolve, reject) => {
      const listener = (m: Message) => {
        if (m.method === method && match(m.params)) {
          clearTimeout(timer);
          this.listeners.splice(this.listeners.indexOf(listener), 1);
          resolve(m.params);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.splice(this.listeners.indexOf(listener), 1);
        reject(new Error(`no ${method} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.listeners.push(listener);
    });
  }

  async initialize(rootPath: string | undefined, capabilities: Record<string, unknown> = {}): Promise<any> {
    const rootUri = rootPath ? pathToUri(rootPath) : null;
    const result = await this.request('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: rootPath ? [{ uri: rootUri, name: path.basename(rootPath) }] : null,
      capabilities,
    }, 30_000);
    this.notify('initialized', {});
    return result;
  }

  /** Asks the server to shut down, then makes sure the process is gone. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        await this.request('shutdown', null, 2_000);
        this.notify('exit', null);
      } catch { /* it will be killed below */ }
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { this.child.kill('SIGKILL'); resolve(); }, 2_000);
        this.child.once('exit', () => { clearTimeout(t); resolve(); });
        if (this.child.exitCode !== null) { clearTimeout(t); resolve(); }
      });
    }
  }

  private send(m: Message): void {
    const body = Buffer.from(JSON.stringify(m), 'utf8');
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString();
      const m = /Content-Length: (\d+)/i.exec(header);
      if (!m) throw new Error(`bad header from server: ${header}`);
      const length = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as Message);
    }
  }

  private dispatch(m: Message): void {
    if (m.id !== undefined && m.method === undefined) {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      clearTimeout(w.timer);
      if (m.error) w.reject(new Error(`${m.error.code}: ${m.error.message}`));
      else w.resolve(m.result);
      return;
    }
    if (m.id !== undefined && m.method) {
      // A request from the server (e.g. client/registerCapability): accept it.
      const handler = this.handlers.get(m.method);
      this.send({ jsonrpc: '2.0', id: m.id, result: handler ? handler(m.params) : null });
    }
    this.notifications.push(m);
    for (const l of [...this.listeners]) l(m);
  }
}

export function pathToUri(p: string): string {
  return require('node:url').pathToFileURL(p).href;
}
