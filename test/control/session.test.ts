import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeSession, readSession, removeSession, sessionFile, writeSession } from '../../simulator/control/session';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'devmesh-session-'));

test('the session file is 0600 inside a 0700 .devmesh folder beside the Mesh file', () => {
  const dir = tmp();
  try {
    writeSession(dir, { apiUrl: 'http://127.0.0.1:1', token: 't', pid: process.pid });
    assert.equal(statSync(sessionFile(dir)).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(dir, '.devmesh')).mode & 0o777, 0o700);
    assert.deepEqual(readSession(dir), { apiUrl: 'http://127.0.0.1:1', token: 't', pid: process.pid });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('an existing .devmesh folder with loose permissions is tightened to 0700', () => {
  const dir = tmp();
  try {
    mkdirSync(path.join(dir, '.devmesh'), { mode: 0o755 });
    writeSession(dir, { apiUrl: 'http://127.0.0.1:1', token: 't', pid: 1 });
    assert.equal(statSync(path.join(dir, '.devmesh')).mode & 0o777, 0o700);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a session whose pid is gone is stale', async () => {
  const dir = tmp();
  try {
    writeSession(dir, { apiUrl: 'http://127.0.0.1:1', token: 't', pid: 2 ** 22 + 12345 });
    assert.equal((await probeSession(dir)).state, 'stale');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a session of a live process is running even when its API does not answer yet', async () => {
  const dir = tmp();
  try {
    writeSession(dir, { apiUrl: 'http://127.0.0.1:1', token: 't', pid: process.ppid });
    const s = await probeSession(dir);
    assert.equal(s.state, 'running');
    assert.equal(s.state === 'running' && s.answering, false);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('removeSession leaves a file that belongs to another devmesh alone', () => {
  const dir = tmp();
  try {
    writeSession(dir, { apiUrl: 'x', token: 't', pid: 999_999 });
    removeSession(dir, process.pid);
    assert.ok(existsSync(sessionFile(dir)));
    removeSession(dir, 999_999);
    assert.ok(!existsSync(sessionFile(dir)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a corrupt session file reads as no session', () => {
  const dir = tmp();
  try {
    mkdirSync(path.join(dir, '.devmesh'));
    writeFileSync(sessionFile(dir), '{ not json');
    assert.equal(readSession(dir), undefined);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a session file whose apiUrl is not loopback HTTP is not a session: the token never leaves the machine', () => {
  const dir = tmp();
  try {
    for (const apiUrl of ['http://192.168.1.5:15000', 'https://127.0.0.1:15000', 'http://evil.example:15000', 'http://127.0.0.1.evil.example', 'not a url']) {
      writeSession(dir, { apiUrl, token: 't', pid: process.pid });
      assert.equal(readSession(dir), undefined, apiUrl);
    }
    for (const apiUrl of ['http://127.0.0.1:15000', 'http://localhost:15000', 'http://[::1]:15000']) {
      writeSession(dir, { apiUrl, token: 't', pid: process.pid });
      assert.equal(readSession(dir)?.apiUrl, apiUrl);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
