// Property-based bad-input tests (issue 11): the shared pieces of test/fuzz/*.test.ts.
//
// Each fuzz file starts ONE real server and throws generated hostile input at every HTTP route and
// every WebSocket frame type of one hub: generated JSON of every type, wrong types in known fields,
// deep nesting, huge strings (up to 64 KiB, plus one body over body_limit), invalid UTF-8 sent as raw
// bytes, control characters (CR, LF, CRLF, NUL, ...), SSE field injections ("\r\nevent: x"),
// unknown fields and prototype-pollution keys (__proto__, constructor, ...). What must hold:
//   - no answer is a 5xx, every 4xx has the hub's error shape, the process never dies (healthz 200,
//     child.exitCode null) and never logs an error-level line;
//   - a refused request (any 4xx) and a read (GET) change no record (users, groups, rooms, history,
//     pending notifications are snapshotted before and compared after);
//   - a WebSocket answers a bad frame with an error frame or closes with a reason, and the server
//     keeps serving the other sockets;
//   - no SSE `id:` or `event:` line can carry a CR or LF (a raw reader checks every byte).
//
// Known product bugs are kept as `todo` tests at the end of each file; the properties tolerate
// exactly those (narrowly: the same input class, the same symptom) and count them as notes, so that
// they stay green and a new bug still fails them.
//
// Runs are reproducible: the seed is fixed (FLASHHUB_FUZZ_SEED=<int> picks another one) and the
// number of runs per property is small so that the four files together take well under a minute.
// FLASHHUB_LONG_TESTS=1 runs every property 20 times as often (a few minutes). A failing property
// prints the broken assertion, its seed and counterexample (FLASHHUB_FUZZ_SHRINK=1 shrinks it to a
// small one first); keep it as a plain regression test, marked `todo` while the product bug is open.
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { deeperThan } from '../../src/transports/json-depth.ts';
import type { RunningFlashhub } from '../support/flashhub.ts';

export { fc };

export const longTests = process.env.FLASHHUB_LONG_TESTS === '1';
export const fuzzSeed = process.env.FLASHHUB_FUZZ_SEED !== undefined ? Number(process.env.FLASHHUB_FUZZ_SEED) : 110_2026;

/** How many generated inputs a property tries: `n` by default, 20 times that in long runs. */
export function runs(n: number): number {
  return longTests ? n * 20 : n;
}

/** FLASHHUB_FUZZ_SHRINK=1 shrinks a failing input to a small one (slow here: every try is a request). */
export const shrink = process.env.FLASHHUB_FUZZ_SHRINK === '1';

/**
 * Runs an async property with the fixed seed. A failure reports the property's own error first,
 * then fast-check's report (seed, path, counterexample) to replay it.
 */
export async function check<T>(arbitrary: fc.Arbitrary<T>, property: (value: T) => Promise<void>, numRuns: number): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, property), { seed: fuzzSeed, numRuns, endOnFailure: !shrink });
  if (!details.failed) return;
  const error = details.errorInstance as Error | undefined;
  const report = fc.defaultReportMessage(details) ?? '';
  const counterexample = details.counterexample === null ? '' : fc.stringify(details.counterexample);
  throw new Error(
    `${error?.message ?? String(error)}\n\nreplay: FLASHHUB_FUZZ_SEED=${details.seed} (path ${details.counterexamplePath}); counterexample:\n${counterexample.slice(0, 4000)}\n\n${report.slice(0, 600)}`,
    { cause: error },
  );
}

/**
 * Inputs tried, per label (route or frame type), and notes (known bugs met, generic 404s), printed
 * with t.diagnostic at the end of each file.
 */
export class Tally {
  readonly #counts = new Map<string, number>();
  readonly #notes = new Map<string, number>();

  add(label: string): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + 1);
  }

  /** Something an input ran into (counted apart: it is not another input). */
  note(label: string): void {
    this.#notes.set(label, (this.#notes.get(label) ?? 0) + 1);
  }

  get total(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }

  lines(hub: string): string[] {
    return [
      `${hub}: ${this.total} inputs tried (seed ${fuzzSeed}${longTests ? ', long run' : ''})`,
      ...[...this.#counts].map(([label, count]) => `  ${label}: ${count}`),
      ...[...this.#notes].map(([label, count]) => `  (${label}: ${count})`),
    ];
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Control characters and line breaks, the SSE field separators among them. */
export const controlPieces = ['\r', '\n', '\r\n', '\n\n', '\r\r', '\0', '\u0001', '\u0007', '\b', '\t', '\u000b', '\f', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\ufffd'] as const;

/** What would add fields or events to an SSE stream if it reached an id/event line unescaped. */
export const sseInjections = [
  '\r\nevent: x',
  '\nid: y',
  '\r\nid: 1\r\n\r\ndata: {}',
  '\n\ndata: {"injected":true}\n\n',
  'x\revent: x\rdata: 1\r\r',
  'data: x\n\n',
  '\nretry: 1\n',
  ':\n\n',
  '\r\n\r\nevent: message\r\ndata: "pwned"\r\n\r\n',
] as const;

/** Keys that reach prototypes when code copies fields with assignment. */
export const pollutionKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isAdmin', 'admin', 'then'] as const;

const loneSurrogates = ['\ud800', '\udfff', 'a\ud83d', '\ude00b', '\ud83d\ud83d'] as const;
const numberish = ['0', '-1', '1', '01', '1.5', '1e3', '1e309', 'NaN', 'Infinity', '0x10', ' 1', '1 ', '9007199254740993', '-0', '+1', ''] as const;

/** Strings with control characters, injections, lone surrogates, numbers as text and plain text mixed. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.array(fc.oneof(fc.constantFrom(...controlPieces), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
  fc.constantFrom(...sseInjections),
  fc.constantFrom(...loneSurrogates),
  fc.constantFrom(...numberish),
  fc.constantFrom(...pollutionKeys),
  fc.constantFrom('<script>alert(1)</script>', '"\'&<>', '../../etc/passwd', '%00', '%0d%0a', '\\u0000', '${jndi:x}', 'Adam', 'adam', ' Adam', 'ADAM\n'),
);

/** Up to 64 KiB, cheap to generate: one piece repeated. */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1024, max: 64 * 1024 }), fc.constantFrom('x', 'é', '😀', '\r\n', '\0', 'a\u2028', '\ud800', '<&>', ' '))
  .map(([length, piece]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length));

/** A plain object built with defineProperty, so "__proto__" is an own key that JSON.stringify writes. */
export function objectOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

export const hostileKey: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...pollutionKeys), hostileString, fc.string({ maxLength: 8 }));

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, -1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 0.1, 4294967296),
);

/** Any JSON value, nested a few levels, with hostile strings, numbers and keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthSize: 'small' }, hostileString, hostileNumber, fc.boolean(), fc.constant(null), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectOf),
})).value;

/** A value of the wrong type for any field: any JSON, or a huge string now and then. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof({ weight: 6, arbitrary: hostileJson }, { weight: 1, arbitrary: hugeString });

/**
 * An object shaped like a request: each known field is left out, given a plausible value, or given
 * a hostile one; unknown fields and prototype keys are mixed in.
 */
export function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const known = Object.entries(fields).map(([name, plausible]) =>
    fc.oneof(
      { weight: 3, arbitrary: plausible.map((value) => [[name, value] as const]) },
      { weight: 2, arbitrary: wrongValue.map((value) => [[name, value] as const]) },
      { weight: 1, arbitrary: fc.constant([] as (readonly [string, unknown])[]) },
    ),
  );
  const extra = fc.array(fc.tuple(hostileKey, hostileJson), { maxLength: 3 });
  return fc.tuple(fc.tuple(...known), extra).map(([chosen, unknown]) => objectOf([...chosen.flat(), ...unknown]));
}

/** An object with every known field given a plausible value. */
export function plausibleObject(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(...Object.entries(fields).map(([name, plausible]) => plausible.map((value) => [name, value] as const))).map((entries) => objectOf(entries));
}

/** Byte sequences that are never valid UTF-8. */
export const invalidUtf8: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(
    [0xff],
    [0xfe, 0xff],
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf],
    [0xe0, 0x80, 0xaf], // overlong "/"
    [0xed, 0xa0, 0x80], // a UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xe2, 0x82], // truncated
    [0x80],
    [0x22, 0xc3], // '"' then a cut 2-byte sequence
  ).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((bytes) => Buffer.concat([Buffer.from(bytes), Buffer.from([0xff])])),
);

export interface Body {
  label: string;
  bytes: Buffer | undefined;
  contentType: string | undefined;
  chunked: boolean;
}

const brokenJson = [
  '{',
  '}',
  '{"a":',
  '[1,]',
  '{"a":1,}',
  "{'a':1}",
  '{"a":1}{"b":2}',
  'nul',
  'undefined',
  'NaN',
  '1e999',
  '-',
  '"\\ud800"',
  '"\\u0000"',
  '"unterminated',
  '\ufeff{}',
  '{"__proto__":{"admin":true,"isAdmin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '[]',
  '""',
  'null',
  'true',
  '0',
  '   ',
  '\u0000',
] as const;

const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', undefined] as const;

/** Deeply nested arrays or objects: cheap to send, expensive for recursive code (JSON.stringify). */
export const depthBomb: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 100, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/** The body_limit the fuzz servers run with; generated bodies stay under it (the tests over it are explicit). */
export const fuzzBodyLimit = 128 * 1024;

/** A request body: JSON of a shaped object (most often), any JSON, broken JSON, invalid UTF-8, a depth bomb or nothing. */
export function body(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Body> {
  return anyBody(fields).filter((b) => b.bytes === undefined || b.bytes.length <= fuzzBodyLimit);
}

function anyBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Body> {
  const withType = (label: string, bytes: fc.Arbitrary<Buffer | undefined>) =>
    fc.tuple(bytes, fc.constantFrom(...contentTypes), fc.boolean()).map(([b, contentType, chunked]): Body => ({ label, bytes: b, contentType, chunked }));
  const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');
  return fc.oneof(
    { weight: 8, arbitrary: withType('shaped', shaped(fields).map(json)) },
    { weight: 2, arbitrary: withType('json', hostileJson.map(json)) },
    { weight: 2, arbitrary: withType('broken-json', fc.constantFrom(...brokenJson).map((text) => Buffer.from(text))) },
    {
      weight: 2,
      arbitrary: withType(
        'invalid-utf8',
        fc.tuple(invalidUtf8, fc.constantFrom(...Object.keys(fields), 'x'), fc.boolean()).map(([bad, field, inString]) =>
          inString ? Buffer.concat([Buffer.from(`{"${field}":"`), bad, Buffer.from('"}')]) : bad,
        ),
      ),
    },
    { weight: 1, arbitrary: withType('depth-bomb', depthBomb.map((text) => Buffer.from(text))) },
    {
      weight: 2,
      arbitrary: withType(
        'deep field',
        fc.tuple(plausibleObject(fields), fc.constantFrom(...Object.keys(fields), 'x'), depthBomb).map(([object, field, bomb]) => Buffer.from(withDeepField(object, field, bomb))),
      ),
    },
    { weight: 1, arbitrary: withType('huge', fc.tuple(fc.constantFrom(...Object.keys(fields), 'x'), hugeString).map(([field, text]) => json(objectOf([[field, text]])))) },
    { weight: 1, arbitrary: withType('empty', fc.constant(undefined)) },
  );
}

/** Percent-encodes every byte that is not unreserved, so any string or byte sequence fits in a URL. */
export function encodeBytes(value: string | Buffer): string {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  let out = '';
  for (const byte of bytes) out += /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A path segment: hostile text, raw invalid UTF-8, dot segments, encoded slashes, or a plausible value. */
export function segment(plausible: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: plausible.map(encodeBytes) },
    { weight: 4, arbitrary: hostileString.filter((s) => s !== '').map(encodeBytes) },
    { weight: 1, arbitrary: invalidUtf8.map(encodeBytes) },
    { weight: 1, arbitrary: fc.constantFrom('..', '.', '%2F', '%2e%2e', '%', '%zz', '%E0%A4%A', 'a%00b', '%C0%AE', encodeBytes('x'.repeat(5000))) },
  );
}

/** A query string of known (and unknown) parameters with plausible or hostile values, repeated keys included. */
export function query(params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const value = (plausible: fc.Arbitrary<string>) =>
    fc.oneof({ weight: 3, arbitrary: plausible.map(encodeBytes) }, { weight: 3, arbitrary: hostileString.map(encodeBytes) }, { weight: 1, arbitrary: invalidUtf8.map(encodeBytes) });
  const known = Object.entries(params).map(([name, plausible]) =>
    fc.oneof({ weight: 2, arbitrary: fc.array(value(plausible), { minLength: 1, maxLength: 2 }).map((values) => values.map((v) => `${name}=${v}`)) }, { weight: 1, arbitrary: fc.constant([] as string[]) }),
  );
  const extra = fc.array(fc.tuple(hostileKey, hostileString).map(([k, v]) => `${encodeBytes(k)}=${encodeBytes(v)}`), { maxLength: 2 });
  return fc.tuple(fc.tuple(...known), extra, fc.constantFrom('', '&', '&&', '=', 'a')).map(([chosen, unknown, junk]) => {
    const parts = [...chosen.flat(), ...unknown];
    if (junk) parts.push(junk);
    return parts.length ? `?${parts.join('&')}` : '';
  });
}

/** Header values: latin1 text (bytes 0x80-0xFF arrive as invalid UTF-8), long ones, near-misses of the real syntax. */
export const headerText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Bearer  a b', 'Basic dXNlcjpwYXNz', 'Bearer \xff\xfe', 'Bearer eyJ.eyJ.x', 'Bearer ' + 'A'.repeat(8000), 'Bearer a.b.c.d', 'Bearer ..'),
);

// ---------------------------------------------------------------------------------------------
// Tokens with the server's real key and hostile claims (wrong types, odd subjects, wrong kinds).

export type TokenKind = 'user' | 'client' | 'stream';

function keyFor(master: Uint8Array, kind: TokenKind): Buffer {
  return kind === 'user' ? Buffer.from(master) : Buffer.from(hkdfSync('sha256', master, 'flashhub', `flashhub ${kind} token`, 32));
}

/** A compact HS256 JWS over `claims`, signed as flashhub signs tokens of `kind` (claims may be nonsense). */
export function forgeToken(master: Uint8Array, kind: TokenKind, claims: unknown, header: unknown = { alg: 'HS256', typ: 'JWT' }): string {
  const part = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const head = `${part(header)}.${part(claims)}`;
  return `${head}.${createHmac('sha256', keyFor(master, kind)).update(head).digest('base64url')}`;
}

/** Claims that a careless check could take for a real token, with the right kind or not. */
export function hostileClaims(kind: TokenKind): fc.Arbitrary<unknown> {
  const now = Math.floor(Date.now() / 1000);
  const plausible = { iss: 'flashhub', typ: kind, sub: '1', exp: now + 600, jti: randomUUID() };
  return fc.oneof(
    shaped({ iss: fc.constant('flashhub'), typ: fc.constantFrom(kind, 'user', 'client', 'stream'), sub: fc.oneof(fc.constantFrom('1', '2', '0', '-1', '1.5', '1e0', '0x1', '__proto__', '99999999', ' 1'), hostileString), exp: fc.constantFrom<unknown>(now + 600, now - 1, 'never', 1e300), nbf: fc.constantFrom<unknown>(now - 10, now + 600, '0'), jti: hostileString, name: hostileString, email: hostileString }),
    hostileJson,
    fc.constant(plausible).map((claims) => ({ ...claims, exp: now - 5 })),
  );
}

/** Tokens that must all be refused: garbage, tampered, alg none, expired, forged with wrong types. */
export function badToken(master: Uint8Array, kind: TokenKind, valid: string): fc.Arbitrary<string> {
  const tamper = (token: string, i: number) => {
    const chars = [...token];
    const at = i % chars.length;
    chars[at] = chars[at] === 'A' ? 'B' : 'A';
    return chars.join('');
  };
  // At most 10,000 characters: a request line or header over Node's 16 KiB limit never reaches a hub
  // (see the regression tests for what the server answers then).
  return fc.oneof(
    hostileString,
    fc.constantFrom('', 'null', 'undefined', 'a.b.c', '...', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', valid + 'x', valid.slice(0, -1), valid.split('.').slice(0, 2).join('.'), 'x'.repeat(10_000)),
    fc.nat().map((i) => tamper(valid, i)),
    hostileClaims(kind).map((claims) => forgeToken(master, kind, claims, { alg: 'none' })),
    fc.tuple(hostileClaims(kind), fc.constantFrom<TokenKind>('user', 'client', 'stream')).map(([claims, signedAs]) => forgeToken(master, signedAs, claims)),
    fc.constant(forgeToken(master, kind, { iss: 'flashhub', typ: kind, sub: '1', exp: Math.floor(Date.now() / 1000) + 600 }, { alg: 'HS256', crit: ['exp'] })),
  ).filter((token) => token.length <= 10_000);
}

// ---------------------------------------------------------------------------------------------
// HTTP over raw sockets: any method, any (percent-encoded) path, raw body bytes, chunked or not.

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
  /** The answer was an event stream; it was closed right after its headers. */
  stream: boolean;
}

export interface RequestSpec {
  /** What kind of body this is (Body.label), for the checks; not sent. */
  kind?: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  chunked?: boolean;
}

export function request(port: number, spec: RequestSpec, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...spec.headers };
    if (spec.body !== undefined && !spec.chunked) headers['content-length'] = String(spec.body.length);
    // Node's client sends a GET body raw (no framing) unless chunked is asked for explicitly.
    if (spec.body !== undefined && spec.chunked) headers['transfer-encoding'] = 'chunked';
    const req = http.request({ host: '127.0.0.1', port, method: spec.method, path: spec.path, headers, agent: false, timeout: timeoutMs }, (response) => {
      const stream = String(response.headers['content-type'] ?? '').startsWith('text/event-stream');
      if (stream) {
        response.destroy();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text: '', json: undefined, stream });
        return;
      }
      readAnswer(response).then(resolve, reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${spec.method} ${spec.path.slice(0, 200)} within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (spec.body !== undefined && spec.chunked) {
      const half = Math.floor(spec.body.length / 2);
      req.write(spec.body.subarray(0, half));
      req.write(spec.body.subarray(half));
    } else if (spec.body !== undefined) {
      req.write(spec.body);
    }
    req.end();
  });
}

export function bodyHeaders(b: Body, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(b.contentType === undefined ? {} : { 'content-type': b.contentType }), ...extra };
}

// ---------------------------------------------------------------------------------------------
// Error shapes of the four hubs (README): a problem text, or undefined when the answer fits.

export type Hub = 'notify' | 'presence' | 'chat' | 'dm';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function errorShapeProblem(hub: Hub, answer: Answer): string | undefined {
  const json = answer.json;
  if (!String(answer.headers['content-type'] ?? '').includes('application/json')) return `content-type ${answer.headers['content-type']} is not JSON`;
  switch (hub) {
    case 'notify':
    case 'presence':
      if (!isObject(json) || typeof json.error !== 'string') return 'expected {"error": "..."}';
      if (json.detail !== undefined && !(isObject(json.detail) && Object.values(json.detail).every((v) => typeof v === 'string'))) return 'detail must map fields to texts';
      return undefined;
    case 'chat':
      return isObject(json) && typeof json.message === 'string' ? undefined : 'expected {"message": "..."}';
    case 'dm':
      return isObject(json) && json.code === String(answer.status) && typeof json.message === 'string' && 'content' in json ? undefined : `expected {"code":"${answer.status}","message","content"}`;
  }
}

/** The server's answer to a path no route takes (server/app.ts notFound), whatever the hub. */
export function isUnrouted(answer: Answer): boolean {
  const json = answer.json;
  return answer.status === 404 && isObject(json) && json.error === 'Not Found' && Object.keys(json).length === 1;
}

export interface StateGuardOptions {
  /** Read at each request: the server starts after the guard is made. */
  port: () => number;
  tally: Tally;
  /** The state refused requests must leave alone, as comparable text. */
  snapshot: () => Promise<string>;
  /** What the snapshot holds, for the failure message ("users or groups"). */
  state: string;
  /** Unrouted paths outside this prefix get the server's generic 404 and are only noted. */
  ownPrefix?: string;
}

/**
 * Sends one request between two snapshots: a refused (or read-only) request must change nothing.
 * The snapshot after one request serves as the one before the next; forget() it after a request
 * that changes the state on purpose.
 */
export class StateGuard {
  readonly #o: StateGuardOptions;
  #last: string | undefined;

  constructor(options: StateGuardOptions) {
    this.#o = options;
  }

  async exercise(hub: Hub, label: string, spec: RequestSpec, changes: boolean): Promise<Answer> {
    const { port, tally, snapshot, state, ownPrefix } = this.#o;
    tally.add(label);
    const before = this.#last ?? (await snapshot());
    this.#last = undefined;
    const answer = await request(port(), spec);
    if (ownPrefix !== undefined && isUnrouted(answer) && !spec.path.startsWith(ownPrefix)) {
      // A path no route takes (a dot segment, an encoded slash): at the root the server's generic
      // 404 is right; under the hub's prefix it comes in the hub's shape (checked below).
      tally.note('unrouted root path (generic 404)');
    } else {
      assertAnswer(hub, `${spec.method} ${spec.path.slice(0, 300)}`, answer);
    }
    if (answer.status >= 400 || !changes) {
      const after = await snapshot();
      assert.ok(after === before, `${spec.method} ${spec.path.slice(0, 300)} answered ${answer.status} and changed ${state}:\n${snapshotDiff(before, after)}`);
      this.#last = after;
    }
    return answer;
  }

  forget(): void {
    this.#last = undefined;
  }
}

/** status < 500, and the hub's error shape on a 4xx. */
export function assertAnswer(hub: Hub, what: string, answer: Answer): void {
  assert.ok(answer.status > 0 && answer.status < 500, `${what}: ${answer.status} ${answer.text.slice(0, 500)}`);
  if (answer.status >= 400) {
    const problem = errorShapeProblem(hub, answer);
    assert.equal(problem, undefined, `${what}: ${answer.status} ${answer.text.slice(0, 300)}: ${problem}`);
  }
}

/**
 * The server is alive: the process has not exited, healthz answers, and nothing was logged at level
 * error, apart from the known bugs' lines (`known`: the todo tests describe them).
 */
export async function assertAlive(server: RunningFlashhub, known: (line: Record<string, unknown>) => boolean = () => false): Promise<void> {
  assert.equal(server.child.exitCode, null, 'the server exited');
  assert.equal(server.child.signalCode, null, 'the server was killed');
  const health = await request(server.port, { method: 'GET', path: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(errorLogs(server).filter((line) => !known(line)), [], 'error-level log lines');
}

export function errorLogs(server: RunningFlashhub): Record<string, unknown>[] {
  return server.logs.filter((line) => line.level === 'error');
}

/**
 * Known bugs (todo tests): client JSON coerced with Number()/String() or serialised with
 * JSON.stringify throws on a deep array (stack overflow) or on an object whose "toString"/"valueOf"
 * are not functions; these are the lines the server logs then.
 */
export const coercionFailureLine = (line: Record<string, unknown>): boolean => /Maximum call stack size exceeded|Cannot convert object to primitive value/.test(JSON.stringify(line));

/** A value Number() or String() would have to convert as an object (and may throw on). */
export const isObjectValue = (value: unknown): boolean => typeof value === 'object' && value !== null;

/** The named field of a JSON body, if the body is a JSON object that has it. */
export function bodyField(body: Buffer | undefined, field: string): unknown {
  try {
    const value: unknown = JSON.parse(body?.toString('utf8') ?? 'null');
    return typeof value === 'object' && value !== null && Object.hasOwn(value, field) ? (value as Record<string, unknown>)[field] : undefined;
  } catch {
    return undefined;
  }
}

/** JSON text of `object` with `field` set to `bomb` (raw JSON text, too deep for JSON.stringify). */
export function withDeepField(object: Record<string, unknown>, field: string, bomb: string): string {
  const marker = '\u0000deep\u0000';
  return JSON.stringify(objectOf([...Object.entries(object).filter(([k]) => k !== field), [field, marker]])).replace(JSON.stringify(marker), bomb);
}

// ---------------------------------------------------------------------------------------------
// A raw SSE reader: every byte is checked, not just what an EventSource would make of it.

export interface SseBlock {
  fields: [string, string][];
  id?: string;
  data?: unknown;
}

export interface RawSse {
  status: number;
  /** Framing problems seen so far: CRs, unexpected fields, repeated fields, data that is not JSON. */
  problems: string[];
  /** The next event (block with data), in order. */
  next(timeoutMs?: number): Promise<SseBlock>;
  /** Every event received within `ms` from now. */
  collect(ms: number): Promise<SseBlock[]>;
  close(): void;
}

export interface SseRules {
  /** The fields an event may carry (each at most once); `data` exactly once, always JSON. */
  allowed: readonly string[];
  idPattern: RegExp;
}

export function openRawSse(port: number, path: string, rules: SseRules, headers: Record<string, string> = {}): Promise<RawSse> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers }, agent: false }, (response) => {
      const problems: string[] = [];
      const queue: SseBlock[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      let buffer = '';
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const handleBlock = (block: string) => {
        const lines = block.split('\n');
        const fields: [string, string][] = [];
        for (const line of lines) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          fields.push([name, value]);
        }
        if (fields.length === 0) return;
        const event: SseBlock = { fields };
        const seen = new Set<string>();
        for (const [name, value] of fields) {
          if (!rules.allowed.includes(name)) problems.push(`unexpected field ${JSON.stringify(name)} in ${JSON.stringify(block)}`);
          if (seen.has(name)) problems.push(`field ${name} twice in ${JSON.stringify(block)}`);
          seen.add(name);
          if (name === 'id') {
            if (!rules.idPattern.test(value)) problems.push(`id ${JSON.stringify(value)} does not match ${rules.idPattern}`);
            event.id = value;
          }
          if (name === 'data') {
            try {
              event.data = JSON.parse(value);
            } catch {
              problems.push(`data is not JSON: ${JSON.stringify(value.slice(0, 200))}`);
            }
          }
        }
        if (!seen.has('data')) problems.push(`an event without data: ${JSON.stringify(block)}`);
        queue.push(event);
        wake?.();
      };
      response.on('data', (chunk: Buffer) => {
        let text: string;
        try {
          text = decoder.decode(chunk, { stream: true });
        } catch {
          problems.push('the stream is not valid UTF-8');
          return;
        }
        if (text.includes('\r')) problems.push(`a CR in the stream: ${JSON.stringify(text.slice(Math.max(0, text.indexOf('\r') - 80), text.indexOf('\r') + 80))}`);
        buffer += text;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          handleBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      });
      response.on('end', () => {
        ended = true;
        wake?.();
      });
      response.on('error', () => {
        ended = true;
        wake?.();
      });
      const waitOnce = (ms: number) =>
        new Promise<void>((done) => {
          const timer = setTimeout(done, ms);
          wake = () => {
            clearTimeout(timer);
            done();
          };
        });
      resolve({
        status: response.statusCode ?? 0,
        problems,
        async next(timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const event = queue.shift();
            if (event) return event;
            if (ended) throw new Error('the stream ended');
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
            await waitOnce(left);
          }
        },
        async collect(ms) {
          await new Promise((done) => setTimeout(done, ms));
          return queue.splice(0);
        },
        close: () => response.destroy(),
      });
    });
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// WebSockets: a client that keeps every frame and its close, and raw frames ws would never send.

export interface FuzzSocket {
  ws: WebSocket;
  /** Frames not taken yet (JSON parsed when possible, else the text). */
  frames: unknown[];
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
  sendText(text: string | Buffer): void;
  /** The first queued frame that matches (removed from the queue), waiting up to `timeoutMs`. */
  take(matches: (frame: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Everything queued now (emptied). */
  drain(): unknown[];
  close(): void;
}

export async function openSocket(url: string, options: WebSocket.ClientOptions = {}): Promise<FuzzSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  const frames: unknown[] = [];
  let wake: (() => void) | undefined;
  let closeInfo: { code: number; reason: string } | undefined;
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    let frame: unknown = isBinary ? { binary: text } : text;
    if (!isBinary) {
      try {
        frame = JSON.parse(text);
      } catch {
        // keep the text
      }
    }
    frames.push(frame);
    wake?.();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      resolve(closeInfo);
      wake?.();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode} on ${url}`)));
  });
  return {
    ws,
    frames,
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    sendText: (text) => ws.send(text, { binary: false }),
    async take(matches, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex(matches);
        if (index >= 0) return frames.splice(index, 1)[0];
        if (closeInfo) throw new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}); queued: ${JSON.stringify(frames).slice(0, 500)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(frames).slice(0, 500)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    drain: () => frames.splice(0),
    close: () => ws.close(),
  };
}

/** A client frame (masked) with any opcode, flags and payload, even ones the protocol forbids. */
export function rawFrame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv?: number; masked?: boolean } = {}): Buffer {
  const { fin = true, rsv = 0, masked = true } = options;
  const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const length = payload.length;
  const maskBit = masked ? 0x80 : 0;
  let lengthBytes: Buffer;
  if (length < 126) lengthBytes = Buffer.from([maskBit | length]);
  else if (length < 65536) lengthBytes = Buffer.from([maskBit | 126, length >> 8, length & 0xff]);
  else {
    lengthBytes = Buffer.alloc(9);
    lengthBytes[0] = maskBit | 127;
    lengthBytes.writeBigUInt64BE(BigInt(length), 1);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), lengthBytes, payload]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([Buffer.from(head), lengthBytes, mask, body]);
}

/** Writes bytes straight to the socket under a ws client, bypassing its checks. */
export function writeRaw(socket: FuzzSocket, bytes: Buffer): void {
  (socket.ws as unknown as { _socket: Socket })._socket.write(bytes);
}

/** Frames that break the WebSocket protocol; each must close the socket (1002/1007/1009), never more. */
export const protocolViolations: fc.Arbitrary<{ label: string; bytes: Buffer }> = fc.oneof(
  fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf).map((opcode) => ({ label: `reserved opcode ${opcode}`, bytes: rawFrame(opcode, Buffer.from('x')) })),
  fc.integer({ min: 1, max: 7 }).map((rsv) => ({ label: `rsv bits ${rsv}`, bytes: rawFrame(1, Buffer.from('{}'), { rsv }) })),
  fc.constant({ label: 'unmasked client frame', bytes: rawFrame(1, Buffer.from('{}'), { masked: false }) }),
  fc.constant({ label: 'ping over 125 bytes', bytes: rawFrame(9, Buffer.alloc(126, 0x61)) }),
  fc.constant({ label: 'fragmented ping', bytes: rawFrame(9, Buffer.from('x'), { fin: false }) }),
  fc.constant({ label: 'continuation without start', bytes: rawFrame(0, Buffer.from('x')) }),
  fc.constant({ label: 'text inside a fragmented text', bytes: Buffer.concat([rawFrame(1, Buffer.from('{'), { fin: false }), rawFrame(1, Buffer.from('}'))]) }),
  invalidUtf8.map((bad) => ({ label: 'text frame of invalid UTF-8', bytes: rawFrame(1, bad) })),
  fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1100, 2999, 5000, 65535).map((code) => {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    return { label: `close code ${code}`, bytes: rawFrame(8, payload) };
  }),
  fc.constant({ label: 'close with a 1-byte payload', bytes: rawFrame(8, Buffer.from([3])) }),
  invalidUtf8.map((bad) => ({ label: 'close reason of invalid UTF-8', bytes: rawFrame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), bad])) })),
  fc.constant({ label: 'declared length 2^63', bytes: Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]) }),
);

/** Close codes a server may answer a protocol violation with. */
export const violationCloseCodes = [1002, 1007, 1008, 1009];

/** Waits for a socket to close; fails if it does not within `ms`. */
export async function closedWithin(socket: FuzzSocket, ms = 5000): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([socket.closed, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A whole answer: its text, and its JSON when the text is JSON. */
function readAnswer(response: http.IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json, stream: false });
    });
    response.on('error', reject);
  });
}

/**
 * A WebSocket upgrade request whose answer we read: 101 (the socket is dropped at once) or the
 * refusal, as an Answer. Headers may replace the handshake's own (to send broken handshakes).
 */
export function upgradeRequest(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      agent: false,
      timeout: timeoutMs,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...headers },
    });
    req.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 101, headers: response.headers, text: '', json: undefined, stream: false });
    });
    req.on('response', (response) => readAnswer(response).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`no answer to the upgrade of ${path.slice(0, 200)} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Handshake header sets, mostly broken: what a client may send instead of a clean upgrade. */
export const handshakeHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { 'Sec-WebSocket-Version': '8' },
      { 'Sec-WebSocket-Version': 'x' },
      { 'Sec-WebSocket-Key': 'short' },
      { 'Sec-WebSocket-Key': '' },
      { 'Sec-WebSocket-Protocol': 'a,,b, ,c' },
      { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits=99' },
      { Upgrade: 'h2c' },
    ),
  },
  { weight: 2, arbitrary: fc.oneof(hostileString, fc.constantFrom('null', 'http://evil.example', 'http://127.0.0.1', 'file://', '\xff\xfe')).map((origin) => ({ Origin: origin.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?') })) },
  { weight: 1, arbitrary: headerText.map((h) => ({ Cookie: `session=${h}`.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?') })) },
);

/** What differs between two snapshots (JSON objects of lists): entries added and removed per list. */
export function snapshotDiff(before: string, after: string): string {
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(after) as Record<string, unknown>;
  const out: string[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const left = a[key];
    const right = b[key];
    if (Array.isArray(left) && Array.isArray(right)) {
      const l = new Set(left.map((x) => JSON.stringify(x)));
      const r = new Set(right.map((x) => JSON.stringify(x)));
      const added = [...r].filter((x) => !l.has(x));
      const removed = [...l].filter((x) => !r.has(x));
      if (added.length || removed.length) out.push(`${key}: added ${added.join(', ') || 'none'}; removed ${removed.join(', ') || 'none'}`);
    } else if (JSON.stringify(left) !== JSON.stringify(right)) {
      out.push(`${key}: ${JSON.stringify(left)?.slice(0, 300)} -> ${JSON.stringify(right)?.slice(0, 300)}`);
    }
  }
  return out.join('\n');
}

/**
 * What a token's signature is, seen with the server's key: `signed` (a real signature, whatever the
 * claims say), `non-canonical` (the real signature written another way: the last base64url
 * character of a 32-byte HMAC carries two unused bits), or `garbage`.
 */
export function signatureStatus(master: Uint8Array, kind: TokenKind, token: string): 'signed' | 'non-canonical' | 'garbage' {
  const parts = token.split('.');
  if (parts.length !== 3) return 'garbage';
  const expected = createHmac('sha256', keyFor(master, kind)).update(`${parts[0]}.${parts[1]}`).digest();
  if (parts[2] === expected.toString('base64url')) return 'signed';
  return /^[A-Za-z0-9_-]+$/.test(parts[2]!) && Buffer.from(parts[2]!, 'base64url').equals(expected) ? 'non-canonical' : 'garbage';
}

/**
 * A credential the server never signed must not get in: no success for it, nor for a real signature
 * written non-canonically (base64url's unused low bits changed).
 */
export function assertForgedRefused(tally: Tally, master: Uint8Array, kind: TokenKind, forged: string | undefined, answer: Answer, what: string): void {
  // Only answers of the route itself count: a dot segment (/rooms/%2e%2e) may take the request elsewhere.
  if (forged === undefined || !String(answer.headers['content-type'] ?? '').includes('application/json')) return;
  const status = signatureStatus(master, kind, forged);
  if (status === 'garbage') assert.ok(answer.status >= 400, `${what}: a token the server never signed was let in (${answer.status}): ${forged.slice(0, 200)}`);
  else if (status === 'non-canonical') assert.ok(answer.status >= 400, `${what}: a signature written non-canonically was let in (${answer.status})`);
}

/**
 * Which hub a root POST /login reaches (README: by its password; X-Flashhub-Hub overrides). A body
 * the server cannot read (not JSON, not UTF-8, nested deeper than it accepts) goes to chat.
 */
export function rootLoginHub(b: { bytes?: Uint8Array }, override?: string): 'chat' | 'dm' {
  if (override === 'chat' || override === 'dm') return override;
  try {
    const value: unknown = JSON.parse(b.bytes === undefined ? '' : new TextDecoder('utf-8', { fatal: true }).decode(b.bytes));
    if (deeperThan(value)) return 'chat';
    return typeof value === 'object' && value !== null && (value as Record<string, unknown>).password !== undefined ? 'dm' : 'chat';
  } catch {
    return 'chat';
  }
}
