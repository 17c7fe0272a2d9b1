import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../config.ts';
import { AddressLimits, addressLimitsOf, normalizeAddress } from './address-limits.ts';

test('an address gets `limit` slots; another address has its own', () => {
  const limits = new AddressLimits(2);
  const first = limits.acquire('10.0.0.1');
  const second = limits.acquire('10.0.0.1');
  assert.ok(first && second);
  assert.equal(limits.acquire('10.0.0.1'), undefined, 'the third is refused');
  assert.ok(limits.acquire('10.0.0.2'), 'another address still gets in');
  assert.equal(limits.count('10.0.0.1'), 2);
});

test('a released slot can be taken again; releasing twice gives back one slot', () => {
  const limits = new AddressLimits(1);
  const release = limits.acquire('10.0.0.1')!;
  release();
  release();
  assert.equal(limits.count('10.0.0.1'), 0);
  assert.equal(limits.addresses, 0, 'addresses without connections are forgotten');
  const again = limits.acquire('10.0.0.1');
  assert.ok(again);
  assert.equal(limits.acquire('10.0.0.1'), undefined, 'the double release did not make room for two');
});

test('IPv4-mapped IPv6 addresses count as their IPv4 address', () => {
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('::1'), '::1');
  assert.equal(normalizeAddress(undefined), 'unknown');
  const limits = new AddressLimits(1);
  assert.ok(limits.acquire('::ffff:192.0.2.7'));
  assert.equal(limits.acquire('192.0.2.7'), undefined);
});

test('one registry per core, sized by connections_per_address', () => {
  const core = { config: { connectionsPerAddress: 3 } as Config };
  assert.equal(addressLimitsOf(core), addressLimitsOf(core));
  assert.equal(addressLimitsOf(core).limit, 3);
  assert.notEqual(addressLimitsOf({ config: core.config }), addressLimitsOf(core));
});
