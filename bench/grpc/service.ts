/**
 * The benchmarked gRPC service: a @grpc/grpc-js server on 127.0.0.1 (h2c)
 * with one unary method, `/devmesh.bench.Echo/Say`, answering every call
 * with the same ~100-byte message (the HTTP/1.1 service's response size).
 * Raw bytes in and out — no protobuf library in the loop — so the figure is
 * the transport's, not a codec's. Its own process, pinned by the harness.
 *
 *   node out/bench/grpc/service.js  ->  prints {"port": N} on stdout
 */
import * as grpc from '@grpc/grpc-js';

export const SAY_PATH = '/devmesh.bench.Echo/Say';
/** Field 1 (bytes) of ~100 bytes: a valid protobuf message for any reader. */
export const REPLY = Buffer.concat([Buffer.from([0x0a, 98]), Buffer.alloc(98, 0x61)]);
/** What a client sends: field 1 (string) "hello", in gRPC's 5-byte framing (for h2load's -d file). */
export const REQUEST_FRAME = Buffer.from([0, 0, 0, 0, 7, 0x0a, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

const raw = (b: Buffer) => b;
export const ECHO: grpc.ServiceDefinition = {
  Say: { path: SAY_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw, originalName: 'say' },
};

export function startGrpcService(port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ECHO, { Say: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, REPLY) });
  return new Promise((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve({ server, port: p }))));
}

if (require.main === module) {
  void startGrpcService(Number(process.argv[2] ?? 0)).then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
}
