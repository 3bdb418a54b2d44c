/**
 * The dashboard in a browser: the page plays the host's part itself, against
 * the control API it was served from. The token arrives in the URL fragment
 * (never sent to a server, absent from logs and referrers), is moved to
 * sessionStorage and wiped from the address bar, and travels only as a Bearer
 * header. The event stream is read with fetch so it can carry that header.
 */
import { ControlClient } from '../../simulator/control/api/client';
import { LiveTopology } from '../live';
import type { HostMessage, PageMessage } from '../protocol';
import { isPageMessage } from '../protocol';
import type { Transport } from './transport';

const TOKEN_KEY = 'devmesh.token';
const STATE_KEY = 'devmesh.pageState';

export function takeToken(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function browserTransport(): Transport {
  const listeners: ((m: HostMessage) => void)[] = [];
  const emit = (m: HostMessage) => { for (const l of listeners) l(m); };
  const token = takeToken();
  let live: LiveTopology | undefined;
  if (token) {
    const client = new ControlClient(location.origin, token);
    live = new LiveTopology(client, emit);
  }
  return {
    host: 'browser',
    send: (msg: PageMessage) => {
      if (!isPageMessage(msg)) return;
      if (!live) {
        emit({ type: 'state', state: 'unreachable', message: 'No session token: open the dashboard link that `devmesh up` printed (it ends in #token=...).' });
        return;
      }
      void live.handle(msg);
    },
    onMessage: (fn) => { listeners.push(fn); },
    getState: () => { try { return JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null'); } catch { return null; } },
    setState: (s) => sessionStorage.setItem(STATE_KEY, JSON.stringify(s)),
  };
}
