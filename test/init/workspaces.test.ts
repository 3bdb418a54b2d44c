import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { fromWorkspaces, pinnedPort } from '../../simulator/init/workspaces';
import { pkg, project } from './helpers';

describe('devmesh init reads package.json workspaces', () => {
  it('makes each workspace package with a start script a service run by npm start in its folder, on ports from 3000', () => {
    const { services } = fromWorkspaces(project({
      'package.json': JSON.stringify({ workspaces: ['packages/*', 'apps/web'] }),
      'packages/api/package.json': pkg({ start: 'node index.js' }, { name: '@shop/api' }),
      'packages/lib/package.json': pkg({ build: 'tsc' }, { name: '@shop/lib' }),
      'packages/orders/package.json': pkg({ start: 'node orders.js' }, { name: 'orders_service' }),
      'apps/web/package.json': pkg({ start: 'vite preview' }),
      'apps/admin/package.json': pkg({ start: 'vite preview' }),
    }));
    assert.deepEqual(services.map((s) => [s.name, s.port, s.command, s.cwd, s.origin]), [
      ['web', 3000, ['npm', 'start'], 'apps/web', 'apps/web/package.json'],
      ['api', 3001, ['npm', 'start'], 'packages/api', 'packages/api/package.json'],
      ['orders-service', 3002, ['npm', 'start'], 'packages/orders', 'packages/orders/package.json'],
    ]);
  });

  it('reads yarn\'s { packages } form, pnpm-workspace.yaml, ** and ! patterns, and uses the lockfile\'s package manager', () => {
    const files = {
      'package.json': '{}',
      'pnpm-workspace.yaml': 'packages:\n  - "services/**"\n  - "!services/legacy/**"\n',
      'pnpm-lock.yaml': '',
      'services/team/cart/package.json': pkg({ start: 'node cart.js' }),
      'services/legacy/old/package.json': pkg({ start: 'node old.js' }),
    };
    assert.deepEqual(fromWorkspaces(project(files)).services.map((s) => [s.name, s.command]), [['cart', ['pnpm', 'start']]]);
    const yarn = project({ 'package.json': JSON.stringify({ workspaces: { packages: ['svc/*'] } }), 'yarn.lock': '', 'svc/a/package.json': pkg({ start: 'node a.js' }, { name: 'a' }) });
    assert.deepEqual(fromWorkspaces(yarn).services.map((s) => s.command), [['yarn', 'start']]);
  });

  it('listens where a start script pins its port, since PORT cannot move it', () => {
    const { services, notes } = fromWorkspaces(project({
      'package.json': JSON.stringify({ workspaces: ['*'] }),
      'next/package.json': pkg({ start: 'next start -p 4000' }, { name: 'next' }),
    }));
    assert.deepEqual([services[0].port, services[0].listen.port], [4000, 4000]);
    assert.match(notes[0].message, /pins port 4000/);
    assert.deepEqual(['next start --port=3005', 'PORT=8080 node s.js', 'node s.js -p', 'node server.js'].map(pinnedPort), [3005, 8080, undefined, undefined]);
  });

  it('takes the project itself when it has a start script and no workspaces', () => {
    const { services } = fromWorkspaces(project({ 'package.json': pkg({ start: 'node server.js' }, { name: 'My App' }) }));
    assert.deepEqual(services.map((s) => [s.name, s.cwd, s.origin]), [['my-app', undefined, 'package.json']]);
  });
});
