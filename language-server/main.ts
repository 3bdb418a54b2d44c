/**
 * Entry point of the bundled server (dist/language-server.js) that the VS
 * Code extension starts with `--node-ipc`; `--stdio` works too.
 */
import { createServerConnection, startServer, transportFromArgs } from './server';

startServer(createServerConnection(transportFromArgs(process.argv.slice(2))));
