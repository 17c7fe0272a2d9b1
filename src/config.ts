// The configuration is parsed once, here, into one typed object that is passed down.
// Precedence: command-line flags > FLASHHUB_* environment > .env file > config file > defaults.
// One table (`options`) describes every setting, so the environment names, file keys, validation,
// and `flashhub config` output can never disagree.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { redactUrl, type LogFormat, type LogLevel } from './log.ts';

export interface ListenAddress {
  host: string; // '' means every interface
  port: number;
}

export interface Config {
  port: number;
  host: string;
  listen: ListenAddress[];
  data: string;
  demo: boolean;
  legacyRoutes: boolean;
  origins: string[];
  openLogin: boolean;
  openRegistration: boolean;
  allowUserIdParam: boolean;
  jwtSecret: string;
  clientId: string;
  clientSecret: string;
  userTokenTtl: number;
  streamTokenTtl: number;
  clientTokenTtl: number;
  bodyLimit: number;
  frameLimit: number;
  wsHeartbeat: number;
  presenceAuthUrl: string;
  presenceAuthTimeout: number;
  sendQueueBytes: number;
  connectionsPerUser: number;
  loginAttemptsPerMinute: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  shutdownTimeout: number;
  sync: 'fdatasync' | 'fsync' | 'none';
  retentionDays: number;
  tlsCert: string;
  tlsKey: string;
  messagesPerSecond: number;
  connectionsPerAddress: number;
  messageLength: number;
  roomNameLength: number;
  redisUrl: string;
  redisPrefix: string;
  nodeTimeout: number;
  metrics: boolean;
  metricsToken: string;
  webhook: string[];
  webhookSecret: string;
  webhookOfflineDelay: number;
  webhookQueue: number;
  webhookRetryDelay: number;
}

export type ConfigKey = keyof Config;
export type Sources = Record<ConfigKey, string>;

type Kind = 'port' | 'int' | 'bool' | 'string' | 'url' | 'urls' | 'redisUrl' | 'secret' | 'list' | 'listen' | 'choice';

interface Alias {
  name: string;
  /** Turns the alias' value into this option's notation (e.g. minutes into seconds). */
  convert?: (value: string) => string | undefined;
}

interface OptionSpec {
  key: ConfigKey;
  kind: Kind;
  describe: string;
  default: unknown | ((partial: Partial<Config>) => unknown);
  min?: number;
  max?: number;
  choices?: readonly string[];
  aliases?: Alias[];
  insecure?: boolean;
}

// Seeds 000 and 004 shipped these as defaults; anyone can sign tokens with them.
const wellKnownSecrets = new Set([
  'y0ur-jwt-Encrypt!on-k3y',
  'rust_time_communication_hub',
  'buh_noitacinummoc_emit_tsur',
  'secret',
  'changeme',
  'keyboard cat',
]);

const hostOf = (hostPort: string) => splitHostPort(hostPort)?.host;
// An unparsable HTTP_HOST is passed on as it is, so that validation names it instead of ignoring it.
const portOf = (hostPort: string) => {
  const port = splitHostPort(hostPort)?.port;
  return port === undefined ? hostPort : String(port);
};
const minutesToSeconds = (minutes: string) =>
  Number.isFinite(Number(minutes)) && minutes.trim() !== '' ? String(Number(minutes) * 60) : minutes;

export const options: readonly OptionSpec[] = [
  { key: 'port', kind: 'port', default: 8080, describe: 'TCP port of the main listener',
    aliases: [{ name: 'PORT' }, { name: 'HTTP_HOST', convert: portOf }] },
  { key: 'host', kind: 'string', default: '', describe: 'address of the main listener (empty: every interface)',
    aliases: [{ name: 'HTTP_HOST', convert: hostOf }] },
  { key: 'listen', kind: 'listen', default: [], describe: 'more listeners, host:port or :port, comma-separated (e.g. :4500,:4501)' },
  { key: 'data', kind: 'string', default: './flashhub-data', describe: 'data directory of the embedded store' },
  { key: 'demo', kind: 'bool', default: false, describe: "load the seeds' demo users, rooms and messages and turn on their unauthenticated modes" },
  { key: 'legacyRoutes', kind: 'bool', default: true, describe: "also answer the seeds' original paths at the root" },
  { key: 'origins', kind: 'list', default: [], describe: 'origins allowed for browsers (CORS, WebSocket); * allows any',
    aliases: [{ name: 'ORIGIN' }] },
  { key: 'openLogin', kind: 'bool', default: (c: Partial<Config>) => c.demo ?? false, insecure: true,
    describe: 'chat: log in with a username alone, creating unknown users (seed 002)' },
  { key: 'openRegistration', kind: 'bool', default: true,
    describe: "dm: anyone may create an account with POST /register, as in seed 004 (false: only 'flashhub user add')" },
  { key: 'allowUserIdParam', kind: 'bool', default: (c: Partial<Config>) => c.demo ?? false, insecure: true,
    describe: 'notify: open a stream with ?user_id= and no token (seed 000)' },
  { key: 'jwtSecret', kind: 'secret', default: '', describe: 'token signing secret, at least 32 characters (empty: generated and kept in the data directory)',
    aliases: [{ name: 'JWT_KEY' }] },
  { key: 'clientId', kind: 'string', default: '', describe: 'an API client to create at start (with client_secret)',
    aliases: [{ name: 'CLIENT_ID' }] },
  { key: 'clientSecret', kind: 'secret', default: '', describe: 'the secret of client_id, at least 16 characters',
    aliases: [{ name: 'CLIENT_SECRET' }] },
  { key: 'userTokenTtl', kind: 'int', default: 7200, min: 60, max: 30 * 86400, describe: 'lifetime of user tokens, seconds',
    aliases: [{ name: 'JWT_EXP', convert: minutesToSeconds }] },
  { key: 'streamTokenTtl', kind: 'int', default: 300, min: 5, max: 86400, describe: 'lifetime of stream (EventSource) tokens, seconds' },
  { key: 'clientTokenTtl', kind: 'int', default: 300, min: 10, max: 86400, describe: 'lifetime of API client tokens, seconds' },
  { key: 'bodyLimit', kind: 'int', default: 1 << 20, min: 1024, max: 64 << 20, describe: 'largest HTTP request body, bytes' },
  { key: 'frameLimit', kind: 'int', default: 64 << 10, min: 512, max: 16 << 20, describe: 'largest WebSocket frame, bytes' },
  { key: 'wsHeartbeat', kind: 'int', default: 30, min: 1, max: 3600, describe: 'seconds between WebSocket pings; a socket that misses one pong is dropped' },
  { key: 'presenceAuthUrl', kind: 'url', default: '', describe: "presence: check access tokens at this identity endpoint (seed 001's GET /users/me) besides flashhub's own" },
  { key: 'presenceAuthTimeout', kind: 'int', default: 5, min: 1, max: 60, describe: 'presence: seconds to wait for the identity endpoint; no answer means an invalid token' },
  { key: 'sendQueueBytes', kind: 'int', default: 1 << 20, min: 16 << 10, max: 256 << 20, describe: 'bytes queued for one slow connection before it is dropped' },
  { key: 'connectionsPerUser', kind: 'int', default: 32, min: 1, max: 100_000, describe: 'live connections one user may hold' },
  { key: 'connectionsPerAddress', kind: 'int', default: 1000, min: 1, max: 1_000_000, describe: 'live connections (WebSocket and EventSource) from one client address' },
  { key: 'messagesPerSecond', kind: 'int', default: 50, min: 1, max: 100_000, describe: 'frames a WebSocket may send per second (bursts of twice that); past it the socket is closed 1008' },
  { key: 'messageLength', kind: 'int', default: 4096, min: 1, max: 1 << 20, describe: 'longest chat or dm message text, characters' },
  { key: 'roomNameLength', kind: 'int', default: 100, min: 1, max: 10_000, describe: 'longest chat room or group name, characters' },
  { key: 'loginAttemptsPerMinute', kind: 'int', default: 10, min: 1, max: 100_000, describe: 'login attempts per minute per username and per address' },
  { key: 'metrics', kind: 'bool', default: true, describe: 'serve Prometheus metrics at GET /metrics' },
  { key: 'metricsToken', kind: 'secret', default: '', describe: 'when set, GET /metrics requires Authorization: Bearer <this>, at least 16 characters' },
  { key: 'logLevel', kind: 'choice', default: 'info', choices: ['debug', 'info', 'warn', 'error'], describe: 'least severe log level written' },
  { key: 'logFormat', kind: 'choice', default: 'auto', choices: ['auto', 'json', 'text'], describe: 'log format (auto: text on a terminal, JSON lines otherwise)' },
  { key: 'shutdownTimeout', kind: 'int', default: 10, min: 1, max: 600, describe: 'seconds a graceful shutdown may take' },
  { key: 'sync', kind: 'choice', default: 'fdatasync', choices: ['fdatasync', 'fsync', 'none'], describe: 'how the store makes writes durable (none: page cache only, unsafe)' },
  { key: 'retentionDays', kind: 'int', default: 0, min: 0, max: 36500, describe: 'drop message history older than this many days (0: keep all)' },
  { key: 'tlsCert', kind: 'string', default: '', describe: 'PEM certificate (chain) file: serve HTTPS and WSS on every listener (with tls_key)' },
  { key: 'tlsKey', kind: 'string', default: '', describe: 'PEM private key file of tls_cert' },
  { key: 'redisUrl', kind: 'redisUrl', default: '', describe: 'run as one node of a cluster over this Redis (redis://[user:password@]host:port[/db]): shared store, bus and presence (empty: embedded file store)' },
  { key: 'redisPrefix', kind: 'string', default: 'fh:', describe: 'prefix of every Redis key, so several clusters can share one Redis' },
  { key: 'nodeTimeout', kind: 'int', default: 10, min: 2, max: 600, describe: "cluster: seconds without a node's heartbeat before its users count as offline" },
  { key: 'webhook', kind: 'urls', default: [], describe: 'POST signed events (user.online, message.created, ...) to these http(s) URLs, comma-separated (docs/webhooks.md)' },
  { key: 'webhookSecret', kind: 'secret', default: '', describe: 'webhook signing secret (Standard Webhooks): whsec_<base64> or any text of at least 16 characters; required with webhook' },
  { key: 'webhookOfflineDelay', kind: 'int', default: 5, min: 0, max: 3600, describe: 'webhook: seconds a user must stay offline before user.offline is sent; a reconnect within it sends nothing' },
  { key: 'webhookQueue', kind: 'int', default: 10_000, min: 1, max: 1_000_000, describe: 'webhook: events waiting per URL; past it new events are dropped (and counted)' },
  { key: 'webhookRetryDelay', kind: 'int', default: 1000, min: 10, max: 60_000, describe: 'webhook: milliseconds before the first retry, doubled at each of the 8 attempts up to 60 times itself' },
];

/** snake_case, as written in config files (`user_token_ttl`). */
export function fileKey(key: ConfigKey): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** FLASHHUB_USER_TOKEN_TTL */
export function envName(key: ConfigKey): string {
  return 'FLASHHUB_' + fileKey(key).toUpperCase();
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigInputs {
  /** Flags the user actually gave, by config key. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  /** A config file named on the command line (--config). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  sources: Sources;
  configFile?: string;
}

interface Candidate {
  raw: unknown;
  source: string;
}

export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const cwd = inputs.cwd ?? process.cwd();
  const env = inputs.env ?? process.env;
  const dotenv = readDotenv(path.join(cwd, '.env'));
  const configFile = inputs.configFile ?? env.FLASHHUB_CONFIG ?? dotenv.FLASHHUB_CONFIG;
  const file = configFile ? readConfigFile(path.resolve(cwd, configFile)) : {};

  const partial: Partial<Config> = {};
  const sources = {} as Sources;
  const errors: string[] = [];
  for (const spec of options) {
    const found = firstCandidate(spec, inputs.flags ?? {}, env, dotenv, file, configFile);
    const raw = found ? found.raw : defaultOf(spec, partial);
    try {
      (partial as Record<string, unknown>)[spec.key] = coerce(spec, raw);
    } catch (error) {
      errors.push(`${fileKey(spec.key)} (from ${found?.source ?? 'default'}): ${(error as Error).message}`);
    }
    sources[spec.key] = found?.source ?? 'default';
  }
  if (errors.length) throw new ConfigError(`invalid configuration:\n  ${errors.join('\n  ')}`);
  const config = partial as Config;
  config.data = path.resolve(cwd, config.data);
  checkCombinations(config);
  return { config, sources, configFile: configFile ? path.resolve(cwd, configFile) : undefined };
}

function firstCandidate(
  spec: OptionSpec,
  flags: Partial<Record<ConfigKey, unknown>>,
  env: NodeJS.ProcessEnv,
  dotenv: Record<string, string>,
  file: Record<string, unknown>,
  configFile: string | undefined,
): Candidate | undefined {
  if (flags[spec.key] !== undefined) return { raw: flags[spec.key], source: 'flag' };
  const fromEnv = fromVariables(spec, env, 'environment');
  if (fromEnv) return fromEnv;
  const fromDotenv = fromVariables(spec, dotenv, '.env');
  if (fromDotenv) return fromDotenv;
  const key = fileKey(spec.key);
  if (file[key] !== undefined) return { raw: file[key], source: `file ${configFile}` };
  return undefined;
}

function fromVariables(spec: OptionSpec, vars: Record<string, string | undefined>, where: string): Candidate | undefined {
  const primary = vars[envName(spec.key)];
  if (primary !== undefined) return { raw: primary, source: `${where} ${envName(spec.key)}` };
  for (const alias of spec.aliases ?? []) {
    const value = vars[alias.name];
    if (value === undefined) continue;
    const converted = alias.convert ? alias.convert(value) : value;
    if (converted !== undefined) return { raw: converted, source: `${where} ${alias.name}` };
  }
  return undefined;
}

function defaultOf(spec: OptionSpec, partial: Partial<Config>): unknown {
  return typeof spec.default === 'function' ? (spec.default as (c: Partial<Config>) => unknown)(partial) : spec.default;
}

function coerce(spec: OptionSpec, raw: unknown): unknown {
  switch (spec.kind) {
    case 'port':
      return toInt(raw, 0, 65535);
    case 'int':
      return toInt(raw, spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER);
    case 'bool':
      return toBool(raw);
    case 'string':
      return toText(raw);
    case 'url':
      return toUrl(toText(raw));
    case 'urls':
      return toList(raw).map(toUrl);
    case 'redisUrl':
      return toRedisUrl(toText(raw));
    case 'secret':
      return toSecret(spec, toText(raw));
    case 'list':
      return toList(raw);
    case 'listen':
      return toList(raw).map(toListenAddress);
    case 'choice': {
      const value = toText(raw);
      if (!spec.choices?.includes(value)) throw new Error(`must be one of ${spec.choices?.join(', ')}, got '${value}'`);
      return value;
    }
  }
}

function toInt(raw: unknown, min: number, max: number): number {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`must be a whole number from ${min} to ${max}, got '${String(raw)}'`);
  }
  return value;
}

function toBool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  throw new Error(`must be true or false, got '${String(raw)}'`);
}

function toText(raw: unknown): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new Error(`must be text, got ${JSON.stringify(raw)}`);
  return String(raw).trim();
}

function toUrl(value: string): string {
  if (value === '') return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`'${value}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${value}' is not an http(s) URL`);
  return value;
}

function toRedisUrl(value: string): string {
  if (value === '') return value;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) throw new Error(`'${redactUrl(value)}' is not a redis:// or rediss:// URL`);
  return value;
}

function toSecret(spec: OptionSpec, value: string): string {
  if (value === '') return value;
  if (wellKnownSecrets.has(value)) throw new Error('is a published default secret; choose your own (e.g. `openssl rand -base64 32`)');
  const minimum = spec.key === 'jwtSecret' ? 32 : 16;
  if (value.length < minimum) throw new Error(`must be at least ${minimum} characters`);
  if (spec.key === 'webhookSecret' && value.startsWith('whsec_')) checkWhsec(value);
  return value;
}

/** Standard Webhooks' serialization: whsec_ and the base64 of a random key of 24 bytes or more. */
function checkWhsec(value: string): void {
  const encoded = value.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw new Error('whsec_ must be followed by base64');
  if (Buffer.from(encoded, 'base64').length < 24) throw new Error('a whsec_ key must be at least 24 bytes, as the spec asks');
}

function toList(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : String(raw).split(',');
  return items.map((item) => toText(item)).filter((item) => item !== '');
}

function toListenAddress(text: string): ListenAddress {
  const address = splitHostPort(text);
  if (!address) throw new Error(`'${text}' is not host:port or :port`);
  return address;
}

export function splitHostPort(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

function checkCombinations(config: Config): void {
  if ((config.clientId === '') !== (config.clientSecret === '')) {
    throw new ConfigError('invalid configuration:\n  client_id and client_secret must be given together');
  }
  if ((config.tlsCert === '') !== (config.tlsKey === '')) {
    throw new ConfigError('invalid configuration:\n  tls_cert and tls_key must be given together');
  }
  if (config.webhook.length > 0 && config.webhookSecret === '') {
    throw new ConfigError('invalid configuration:\n  webhook needs webhook_secret (receivers verify the signature with it)');
  }
}

function readDotenv(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid TOML: ${(error as Error).message}`);
  }
  const known = new Set(options.map((spec) => fileKey(spec.key)));
  const unknown = Object.keys(parsed).filter((key) => !known.has(key));
  if (unknown.length) throw new ConfigError(`config file ${file}: unknown setting(s) ${unknown.join(', ')}`);
  return parsed;
}

/** The switches that weaken security and are on: logged as warnings at start, shown by `flashhub config`. */
export function insecureSwitches(config: Config): string[] {
  return options.filter((spec) => spec.insecure && config[spec.key] === true).map((spec) => fileKey(spec.key));
}

/** The effective configuration for display: secrets redacted. */
export function describeConfig(loaded: LoadedConfig): { key: string; value: unknown; source: string; describe: string }[] {
  return options.map((spec) => {
    const value = loaded.config[spec.key];
    return { key: fileKey(spec.key), value: shown(spec, value), source: loaded.sources[spec.key], describe: spec.describe };
  });
}

function shown(spec: OptionSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'secret':
      return value === '' ? value : '[redacted]';
    case 'redisUrl':
      return redactUrl(value as string);
    // A webhook URL may carry credentials too.
    case 'urls':
      return (value as string[]).map(redactUrl);
    case 'listen':
      return formatListen(value as ListenAddress[]);
    default:
      return value;
  }
}

function formatListen(addresses: ListenAddress[]): string[] {
  return addresses.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`);
}
