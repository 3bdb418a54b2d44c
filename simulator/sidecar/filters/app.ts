/**
 * App: the last inbound step, HTTP/1.1 keep-alive to the application on
 * the local port of the container port the call is for (its first port when
 * the call names none). A refused connection (app down) is 503 UF.
 */
import type { Agent } from 'node:http';
import type { Handler } from '../context';
import { forwardHttp1 } from '../upstream/http1';

export const app = (agent: Agent): Handler => (ctx) => {
  const self = ctx.tables.self!;
  const port = ctx.inbound?.localPort ?? self.appPort;
  forwardHttp1(ctx, port, agent, undefined, `app ${self.name} at 127.0.0.1:${port}`);
};
