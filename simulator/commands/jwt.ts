/**
 * `devmesh jwt keys` and `devmesh jwt mint`: a local key pair and signed test
 * tokens, so RequestAuthentication and AuthorizationPolicy on end users can
 * be tried without an identity provider. The private key stays in
 * `.devmesh/` beside the Mesh file (mode 0600) unless --key says otherwise.
 */
import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface KeysOpts { file: string; out: string; key?: string; alg: string; kid?: string; force?: boolean }
interface MintOpts { file: string; key?: string; iss: string; sub?: string; aud: string[]; claim: string[]; exp: string; nbf?: string; alg?: string }

const collect = (value: string, previous: string[]) => [...previous, value];

/** Where the private key lives by default: `.devmesh/jwt-key.json` beside the Mesh file, like the session file. */
function defaultKeyFile(meshFile: string): string {
  return path.join(path.dirname(path.resolve(meshFile)), '.devmesh', 'jwt-key.json');
}

export function register(program: Command, setExit: (code: number) => void): void {
  const jwt = program
    .command('jwt')
    .description('make a local key pair (JWKS) and signed test tokens for RequestAuthentication');

  jwt
    .command('keys')
    .description('write a new key pair: the public keys as a JWKS (for jwksUri) and the private key (0600) for `devmesh jwt mint`')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; the private key goes to .devmesh/ beside it', 'mesh.yaml')
    .option('--out <jwks.json>', 'where to write the public JWKS', 'jwks.json')
    .option('--key <file>', 'where to write the private key (default: .devmesh/jwt-key.json beside the Mesh file)')
    .option('--alg <alg>', 'RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA', 'RS256')
    .option('--kid <id>', 'key id (default: a random UUID)')
    .option('--force', 'overwrite existing files')
    .addHelpText('after', `
Examples:
  devmesh jwt keys --out policies/jwks.json
      then in a RequestAuthentication:  jwksUri: jwks.json   (relative to that policy file)
  devmesh jwt keys --alg ES256 --out jwks.json --key ./signing-key.json`)
    .action(async (o: KeysOpts) => { setExit(await keys(o)); });

  jwt
    .command('mint')
    .description('print a signed JWT with the claims given')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; the private key is read from .devmesh/ beside it', 'mesh.yaml')
    .option('--key <file>', 'private key: the JWK `devmesh jwt keys` wrote, or a PEM private key (default: .devmesh/jwt-key.json beside the Mesh file)')
    .requiredOption('--iss <issuer>', 'issuer (iss); the RequestAuthentication\'s jwtRules[].issuer')
    .option('--sub <subject>', 'subject (sub); the request principal is <iss>/<sub>')
    .option('--aud <audience>', 'audience (aud), repeatable', collect, [])
    .option('--claim <name=value>', 'another claim, repeatable; the value is JSON when it parses as JSON (groups=["a","b"], admin=true), else a string; a repeated name makes a list', collect, [])
    .option('--exp <duration>', 'lifetime from now (1h, 30m, 5s); "-5m" for a token that has expired, "none" for no exp', '1h')
    .option('--nbf <duration>', 'not valid before now + this duration (for a token that is not valid yet)')
    .option('--alg <alg>', 'signing algorithm, when the key does not say')
    .addHelpText('after', `
Examples:
  TOKEN=$(devmesh jwt mint --iss testing@secure.istio.io --sub testing@secure.istio.io)
  devmesh jwt mint --iss https://auth.example.com --sub alice --aud shop --claim groups=admin --exp 10m
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:15180/headers`)
    .action(async (o: MintOpts) => { setExit(await mintCommand(o)); });
}

async function keys(o: KeysOpts): Promise<number> {
  const { generateKeys, KEY_ALGS } = await import('../jwt-keys');
  if (!(KEY_ALGS as readonly string[]).includes(o.alg)) {
    process.stderr.write(`devmesh jwt keys: --alg ${o.alg} is not one of ${KEY_ALGS.join(', ')}\n`);
    return 2;
  }
  const keyFile = path.resolve(o.key ?? defaultKeyFile(o.file));
  const outFile = path.resolve(o.out);
  for (const f of [outFile, keyFile]) {
    if (existsSync(f) && !o.force) {
      process.stderr.write(`devmesh jwt keys: ${path.relative(process.cwd(), f) || f} exists; pass --force to replace it (tokens signed with the old key stop verifying)\n`);
      return 1;
    }
  }
  const pair = await generateKeys(o.alg as (typeof KEY_ALGS)[number], o.kid);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(pair.jwks, null, 2)}\n`);
  mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, `${JSON.stringify(pair.privateJwk, null, 2)}\n`, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const show = (f: string) => path.relative(process.cwd(), f) || f;
  process.stdout.write([
    `wrote the public keys to ${show(outFile)} (kid ${pair.privateJwk.kid}, ${pair.privateJwk.alg})`,
    `wrote the private key to ${show(keyFile)} (mode 0600; keep it out of version control)`,
    `name the JWKS in a RequestAuthentication:  jwksUri: <path of ${path.basename(outFile)} relative to that policy file>`,
    `mint a token:  devmesh jwt mint --iss <issuer> --sub <subject>${o.key ? ` --key ${show(keyFile)}` : ''}`,
    '',
  ].join('\n'));
  return 0;
}

async function mintCommand(o: MintOpts): Promise<number> {
  const { loadSigningKey, mint } = await import('../jwt-keys');
  const keyFile = path.resolve(o.key ?? defaultKeyFile(o.file));
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch {
    process.stderr.write(`devmesh jwt mint: no private key at ${path.relative(process.cwd(), keyFile) || keyFile}; make one with "devmesh jwt keys" or pass --key\n`);
    return 1;
  }
  try {
    const key = await loadSigningKey(text, o.alg);
    process.stdout.write(`${await mint(key, { iss: o.iss, sub: o.sub, aud: o.aud, claims: o.claim, exp: o.exp, nbf: o.nbf })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`devmesh jwt mint: ${(err as Error).message}\n`);
    return 1;
  }
}
