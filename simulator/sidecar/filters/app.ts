/**
 * App: the last inbound step, HTTP/1.1 keep-alive to the application on
 * 127.0.0.1:<appPort>. A refused connection (app down) is 503 UF.
 */
import type { Agent } from 'node:http';
import type { Handler } from '../context';
import { forwardHttp1 } from '../upstream/http1';

export const app = (agent: Agent): Handler => (ctx) => {
  const self = ctx.tables.self!;
  forwardHttp1(ctx, self.appPort, agent, undefined, `app ${self.name} at 127.0.0.1:${self.appPort}`);
};
