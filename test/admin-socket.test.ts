// The admin socket is a door into the directory: it must answer garbage with an error, stay up, and be
// reachable only by the owner.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

function exchange(socketPath: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath, () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('admin socket', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let socketPath: string;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path]);
    socketPath = path.join(dir.path, 'admin.sock');
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('is a socket only its owner can open', async () => {
    const info = await stat(socketPath);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o077, 0);
  });

  test('bad requests get an error answer, and the server stays up', async () => {
    for (const text of ['not json\n', '{"op":1}\n', '{"op":"user.add"}\n', 'null\n']) {
      assert.deepEqual(JSON.parse(await exchange(socketPath, text)).error.code, 'bad_request', text);
    }
    const unknown = JSON.parse(await exchange(socketPath, '{"op":"__proto__","args":{}}\n'));
    assert.equal(unknown.error.code, 'unknown_op');
    const wrongType = JSON.parse(await exchange(socketPath, '{"op":"user.add","args":{"username":42}}\n'));
    assert.deepEqual(wrongType, { ok: false, error: { code: 'invalid', message: 'expected text' } });
    const notList = JSON.parse(await exchange(socketPath, '{"op":"group.add","args":{"groupId":"g","members":"alice"}}\n'));
    assert.deepEqual(notList, { ok: false, error: { code: 'invalid', message: 'expected a list of text' } });
    const unknownMember = JSON.parse(await exchange(socketPath, '{"op":"group.add","args":{"groupId":"g","members":["nobody"]}}\n'));
    assert.deepEqual(unknownMember, { ok: false, error: { code: 'not_found', message: 'no user nobody' } });
    assert.deepEqual(JSON.parse(await exchange(socketPath, '{"op":"group.list","args":{}}\n')), { ok: true, result: { items: [], total: 0 } });
    const info = JSON.parse(await exchange(socketPath, '{"op":"server.info","args":{}}\n'));
    assert.equal(info.ok, true);
    assert.equal(info.result.pid, server.child.pid);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});
