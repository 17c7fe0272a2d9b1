import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashPassword, verifyNothing, verifyPassword } from './passwords.ts';

describe('passwords', () => {
  test('scrypt hash verifies the right password only', async () => {
    const hash = await hashPassword('correct horse');
    assert.match(hash, /^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.ok(!hash.includes('correct horse'));
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horse ', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  test('the same password hashes differently each time (salted)', async () => {
    assert.notEqual(await hashPassword('x1y2z3'), await hashPassword('x1y2z3'));
  });

  test('unicode is normalised, so composed and decomposed forms match', async () => {
    const hash = await hashPassword('caf\u00e9');
    assert.equal(await verifyPassword('cafe\u0301', hash), true);
  });

  test('malformed stored hashes never verify', async () => {
    for (const stored of [undefined, '', 'plain', 'scrypt$1$2$3$x$y', 'bcrypt$a$b$c$d$e', 'scrypt$NaN$8$1$AAAA$AAAA']) {
      assert.equal(await verifyPassword('anything', stored), false, String(stored));
    }
  });

  test('verifyNothing answers false', async () => {
    assert.equal(await verifyNothing('whatever'), false);
  });
});
