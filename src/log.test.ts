import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from './log.ts';

describe('log', () => {
  test('one JSON line per event, below-level events dropped', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json', write: (line) => lines.push(line) });
    log.debug('hidden');
    log.info('server.started', { port: 1 });
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!);
    assert.equal(record.event, 'server.started');
    assert.equal(record.level, 'info');
    assert.equal(record.port, 1);
    assert.ok(lines[0]!.endsWith('}\n'));
  });

  test('secret-looking fields are never written', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (line) => lines.push(line) }).child({ apiKey: 'k-123' });
    log.warn('login', { password: 'hunter2', token: 'eyJ.x.y', client_secret: 's', Authorization: 'Bearer z', user: 'alice' });
    const text = lines.join('');
    for (const secret of ['hunter2', 'eyJ.x.y', '"s"', 'Bearer z', 'k-123']) assert.ok(!text.includes(secret), secret);
    assert.match(text, /"user":"alice"/);
  });
});
