/**
 * The reference chain: nginx -> mTLS -> nginx -> service, with Debian's
 * nginx and configuration written here into a temp dir. Each nginx is one
 * process (`master_process off`, one worker's worth of work) so it is pinned
 * and measured like one sidecar. Keep-alive on every hop; the front presents
 * a client certificate from devmesh's CA and the back requires one
 * (`ssl_verify_client on`). The front does not verify the back's identity:
 * nginx checks DNS names, and mesh certificates carry only a SPIFFE URI.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Certificates } from '../../simulator/protocol';
import { has, spawnPinned, stopChild } from './procs';

export const nginxAvailable = (): boolean => has('nginx');

export interface NginxChain {
  frontPort: number;
  front: ChildProcess;
  back: ChildProcess;
  version: string;
  /** Stops both nginx masters and waits for them to exit. */
  stop(): Promise<void>;
}

function common(dir: string, name: string): string {
  const tmp = path.join(dir, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  return `worker_processes 1;
master_process off;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log warn;
events { worker_connections 4096; }
`;
}

function httpCommon(dir: string, name: string): string {
  const tmp = path.join(dir, `${name}-tmp`);
  return `  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi; uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  keepalive_requests 10000000; keepalive_timeout 120s;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  # Room for a 64 KiB response in memory (the default spills it to a temp file).
  proxy_buffer_size 16k; proxy_buffers 8 16k;
`;
}

export async function startNginxChain(dir: string, o: { servicePort: number; frontPort: number; backPort: number; client: Certificates; server: Certificates; cpu?: string }): Promise<NginxChain> {
  const { w, ca, cCert, cKey, sCert, sKey } = pairFiles(dir, o);
  const front = `${common(dir, 'front')}http {
${httpCommon(dir, 'front')}
  upstream back { server 127.0.0.1:${o.backPort}; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${o.frontPort};
    location / {
      proxy_pass https://back;
      proxy_ssl_certificate ${cCert};
      proxy_ssl_certificate_key ${cKey};
      proxy_ssl_trusted_certificate ${ca};
      proxy_ssl_session_reuse on;
    }
  }
}
`;
  const back = `${common(dir, 'back')}http {
${httpCommon(dir, 'back')}
  upstream svc { server 127.0.0.1:${o.servicePort}; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${o.backPort} ssl;
    ssl_certificate ${sCert};
    ssl_certificate_key ${sKey};
    ssl_client_certificate ${ca};
    ssl_verify_client on;
    location / { proxy_pass http://svc; }
  }
}
`;
  return startPair(dir, w('front.conf', front), w('back.conf', back), o);
}

/** Starts the back, then the front nginx, and checks both stayed up. */
async function startPair(dir: string, fConf: string, bConf: string, o: { frontPort: number; cpu?: string }): Promise<NginxChain> {
  const version = (spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr || '').trim().replace('nginx version: ', '');
  const start = (conf: string) => spawnPinned(o.cpu, 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'startup.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const b = start(bConf);
  const f = start(fConf);
  let stderr = '';
  for (const c of [b, f]) c.stderr!.on('data', (d) => (stderr += d));
  await new Promise((r) => setTimeout(r, 300));
  if (b.exitCode !== null || f.exitCode !== null) throw new Error(`nginx did not start: ${stderr}`);
  return {
    frontPort: o.frontPort, front: f, back: b, version,
    async stop() { await Promise.all([f, b].map((c) => stopChild(c))); },
  };
}

/**
 * The gRPC reference: nginx -> mTLS -> nginx -> gRPC service, as the issue
 * asks (`grpc_pass`). The front listens h2c (what a plaintext gRPC client
 * speaks) and `grpc_pass`es over TLS with a client certificate from
 * devmesh's CA to the back, which requires it (`ssl_verify_client on`) and
 * `grpc_pass`es h2c to the service; kept-alive upstream connections on both
 * hops, one process each, as the HTTP/1.1 pair.
 */
export async function startNginxGrpcChain(dir: string, o: { servicePort: number; frontPort: number; backPort: number; client: Certificates; server: Certificates; cpu?: string }): Promise<NginxChain> {
  const { w, ca, cCert, cKey, sCert, sKey } = pairFiles(dir, o);
  const grpcHttp = (name: string) => `${httpCommon(dir, name)}
  grpc_read_timeout 120s; grpc_send_timeout 120s;
`;
  const front = `${common(dir, 'front')}http {
${grpcHttp('front')}
  upstream back { server 127.0.0.1:${o.backPort}; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${o.frontPort} http2;
    location / {
      grpc_pass grpcs://back;
      grpc_ssl_certificate ${cCert};
      grpc_ssl_certificate_key ${cKey};
      grpc_ssl_trusted_certificate ${ca};
      grpc_ssl_session_reuse on;
    }
  }
}
`;
  const back = `${common(dir, 'back')}http {
${grpcHttp('back')}
  upstream svc { server 127.0.0.1:${o.servicePort}; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${o.backPort} ssl http2;
    ssl_certificate ${sCert};
    ssl_certificate_key ${sKey};
    ssl_client_certificate ${ca};
    ssl_verify_client on;
    location / { grpc_pass grpc://svc; }
  }
}
`;
  return startPair(dir, w('front.conf', front), w('back.conf', back), o);
}

/**
 * The TCP reference: two nginx `stream` proxies with mTLS between them
 * (Debian's libnginx-mod-stream): front (plain TCP in) -> TLS with a client
 * certificate -> back (`ssl_verify_client on`) -> the service.
 */
export async function startNginxStreamChain(dir: string, o: { servicePort: number; frontPort: number; backPort: number; client: Certificates; server: Certificates; cpu?: string }): Promise<NginxChain> {
  const { w, ca, cCert, cKey, sCert, sKey } = pairFiles(dir, o);
  const module = 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n';
  const front = `${module}${common(dir, 'sfront')}stream {
  server {
    listen 127.0.0.1:${o.frontPort};
    proxy_pass 127.0.0.1:${o.backPort};
    proxy_ssl on;
    proxy_ssl_certificate ${cCert};
    proxy_ssl_certificate_key ${cKey};
    proxy_ssl_trusted_certificate ${ca};
    proxy_ssl_session_reuse on;
  }
}
`;
  const back = `${module}${common(dir, 'sback')}stream {
  server {
    listen 127.0.0.1:${o.backPort} ssl;
    ssl_certificate ${sCert};
    ssl_certificate_key ${sKey};
    ssl_client_certificate ${ca};
    ssl_verify_client on;
    proxy_pass 127.0.0.1:${o.servicePort};
  }
}
`;
  return startPair(dir, w('sfront.conf', front), w('sback.conf', back), o);
}

/** Debian's libnginx-mod-stream, which the TCP reference needs. */
export const nginxStreamAvailable = (): boolean => has('nginx') && existsSync('/usr/lib/nginx/modules/ngx_stream_module.so');

/** The folder of a pair, with the CA and both certificates written in it (0600); `w` writes a config file there. */
function pairFiles(dir: string, o: { client: Certificates; server: Certificates }) {
  mkdirSync(dir, { recursive: true });
  const w = (f: string, s: string) => { writeFileSync(path.join(dir, f), s, { mode: 0o600 }); return path.join(dir, f); };
  return {
    w, ca: w('ca.pem', o.client.caPem),
    cCert: w('front.crt', o.client.certPem), cKey: w('front.key', o.client.keyPem),
    sCert: w('back.crt', o.server.certPem), sKey: w('back.key', o.server.keyPem),
  };
}
