/**
 * How the page talks to its host. In VS Code: postMessage to the extension,
 * state kept with the webview's getState/setState. In a browser: the page is
 * its own host (see http-host.ts), state kept in sessionStorage.
 */
import type { HostMessage, PageMessage } from '../protocol';
import { isHostMessage } from '../protocol';

export interface Transport {
  send(msg: PageMessage): void;
  onMessage(fn: (msg: HostMessage) => void): void;
  getState(): unknown;
  setState(state: unknown): void;
  /** 'vscode' or 'browser': the page hides what a host cannot do. */
  readonly host: 'vscode' | 'browser';
}

interface VsCodeApi { postMessage(msg: unknown): void; getState(): unknown; setState(s: unknown): void }
declare function acquireVsCodeApi(): VsCodeApi;

export function vscodeTransport(): Transport | undefined {
  if (typeof acquireVsCodeApi !== 'function') return undefined;
  const api = acquireVsCodeApi();
  return {
    host: 'vscode',
    send: (msg) => api.postMessage(msg),
    onMessage: (fn) => window.addEventListener('message', (e: MessageEvent) => { if (isHostMessage(e.data)) fn(e.data); }),
    getState: () => api.getState(),
    setState: (s) => api.setState(s),
  };
}
