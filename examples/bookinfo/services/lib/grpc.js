'use strict';
/**
 * The details service's gRPC API (details.proto) for the demo's gRPC hop,
 * with @grpc/grpc-js and @grpc/proto-loader. They are the devmesh clone's
 * development dependencies (`npm install` there), found by Node's usual
 * lookup from this folder or through NODE_PATH. Without them the services
 * say what to install: details answers every call UNAVAILABLE with that
 * message (details.js) and the page says details are
 * unavailable; everything else works.
 */
const path = require('node:path');

let loaded;

/** `{ grpc, Details }` (the generated client constructor; `.service` for a server), or `{ error }` saying what to install. */
function detailsApi() {
  if (loaded) return loaded;
  try {
    const grpc = require('@grpc/grpc-js');
    const protoLoader = require('@grpc/proto-loader');
    const definition = protoLoader.loadSync(path.join(__dirname, '..', 'details.proto'), { keepCase: true, longs: Number, defaults: true });
    loaded = { grpc, Details: grpc.loadPackageDefinition(definition).bookinfo.details.v1.Details };
  } catch (e) {
    loaded = {
      error: `@grpc/grpc-js and @grpc/proto-loader cannot be loaded (${e.code || e.message}): run \`npm install\` in the devmesh clone, `
        + 'or `npm install @grpc/grpc-js @grpc/proto-loader` beside these services, or point NODE_PATH at a node_modules that has them',
    };
  }
  return loaded;
}

module.exports = { detailsApi };
