'use strict';
/**
 * The ratings store: Debian's (or Homebrew's) redis-server on $PORT, started
 * and stopped with this workload. Where redis-server is not installed the
 * demo still comes up: this process listens on $PORT itself and answers
 * every command with an error that says what to install, so ratings serves
 * its built-in stars and says why (`store: "built-in"` in its answer).
 * REDIS_SERVER names another redis-server binary.
 */
const { spawn } = require('node:child_process');
const net = require('node:net');

const port = Number(process.env.PORT);
if (!port) { console.error('redis: PORT is not set (devmesh sets it from the workload\'s port)'); process.exit(2); }
const bin = process.env.REDIS_SERVER || 'redis-server';

let standIn = null;
const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'inherit' });
child.on('error', (e) => {
  if (e.code !== 'ENOENT' && e.code !== 'EACCES') throw e;
  standIn = answerWithError(`redis-server is not installed here (${bin}: ${e.code}); install it (apt-get install redis-server, brew install redis) and restart the demo`);
});
child.on('exit', (code, signal) => { if (!standIn) process.exit(code ?? (signal ? 0 : 1)); });

function answerWithError(reason) {
  console.error(`redis: ${reason}. Until then every command is answered with that error, and ratings serves its built-in stars.`);
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    // One error reply per command (each is a RESP array: `*<n>\r\n` at the start of a line).
    socket.on('data', (d) => {
      const commands = Math.max(1, (d.toString('latin1').match(/(?:^|\r\n)\*\d+\r\n/g) || []).length);
      socket.write(`-ERR devmesh demo: ${reason}\r\n`.repeat(commands));
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`redis stand-in listening on 127.0.0.1:${port}`));
  return server;
}

const stop = (signal) => {
  if (standIn) { standIn.close(); process.exit(0); }
  child.kill(signal);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
