import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, describeConfig, insecureSwitches, loadConfig } from './config.ts';

let cwd: string;
before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'flashhub-config-'));
});
after(() => rm(cwd, { recursive: true, force: true }));

const load = (inputs: Parameters<typeof loadConfig>[0] = {}) => loadConfig({ env: {}, cwd, ...inputs });

describe('config', () => {
  test('defaults', () => {
    const { config, sources } = load();
    assert.equal(config.port, 8080);
    assert.equal(config.data, path.join(cwd, 'flashhub-data'));
    assert.equal(config.legacyRoutes, true);
    assert.equal(config.frameLimit, 65536);
    assert.equal(config.openLogin, false);
    assert.equal(sources.port, 'default');
  });

  test('flags beat the environment, which beats .env, which beats the config file', async () => {
    const dir = await mkdtemp(path.join(cwd, 'precedence-'));
    await writeFile(path.join(dir, 'flashhub.toml'), 'port = 1001\nhost = "127.0.0.9"\nlog_level = "warn"\nsync = "fsync"\n');
    await writeFile(path.join(dir, '.env'), 'FLASHHUB_HOST=127.0.0.8\nFLASHHUB_LOG_LEVEL=error\nFLASHHUB_CONFIG=flashhub.toml\n');
    const { config, sources } = loadConfig({
      cwd: dir,
      env: { FLASHHUB_LOG_LEVEL: 'debug', FLASHHUB_PORT: '1002' },
      flags: { port: '1003' },
    });
    assert.equal(config.port, 1003);
    assert.equal(sources.port, 'flag');
    assert.equal(config.logLevel, 'debug');
    assert.equal(sources.logLevel, 'environment FLASHHUB_LOG_LEVEL');
    assert.equal(config.host, '127.0.0.8');
    assert.equal(sources.host, '.env FLASHHUB_HOST');
    assert.equal(config.sync, 'fsync');
    assert.match(sources.sync, /^file .*flashhub\.toml$/);
  });

  test("the seeds' variable names are read as aliases", () => {
    const { config, sources } = load({
      env: {
        HTTP_HOST: '127.0.0.1:9090',
        JWT_KEY: 'a'.repeat(40),
        JWT_EXP: '60',
        CLIENT_ID: 'backend',
        CLIENT_SECRET: 'b'.repeat(20),
        ORIGIN: 'https://app.example,https://admin.example',
      },
    });
    assert.equal(config.port, 9090);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.userTokenTtl, 3600, 'JWT_EXP is in minutes');
    assert.equal(sources.userTokenTtl, 'environment JWT_EXP');
    assert.equal(config.jwtSecret, 'a'.repeat(40));
    assert.equal(config.clientId, 'backend');
    assert.deepEqual(config.origins, ['https://app.example', 'https://admin.example']);
  });

  test('the FLASHHUB_ name wins over an alias', () => {
    const { config } = load({ env: { PORT: '1', FLASHHUB_PORT: '2' } });
    assert.equal(config.port, 2);
  });

  test('a wrong value stops loading with a message naming the setting and its source', () => {
    assert.throws(() => load({ env: { FLASHHUB_PORT: 'eighty' } }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /port \(from environment FLASHHUB_PORT\): must be a whole number from 0 to 65535, got 'eighty'/);
      return true;
    });
    assert.throws(() => load({ env: { HTTP_HOST: 'nonsense' } }), /port \(from environment HTTP_HOST\)/);
    assert.throws(() => load({ flags: { logLevel: 'loud' } }), /log_level \(from flag\): must be one of debug, info, warn, error/);
    assert.throws(() => load({ env: { FLASHHUB_LISTEN: ':4500,localhost' } }), /'localhost' is not host:port/);
    assert.throws(() => load({ env: { FLASHHUB_DEMO: 'maybe' } }), /demo .*must be true or false/);
    assert.throws(() => load({ flags: { presenceAuthUrl: 'ftp://id.example/users/me' } }), /presence_auth_url \(from flag\): 'ftp:.*' is not an http\(s\) URL/);
  });

  test("published default secrets and short secrets are refused", () => {
    assert.throws(() => load({ env: { JWT_KEY: 'y0ur-jwt-Encrypt!on-k3y' } }), /jwt_secret .*published default secret/);
    assert.throws(() => load({ env: { CLIENT_ID: 'x', CLIENT_SECRET: 'rust_time_communication_hub' } }), /client_secret .*published default/);
    assert.throws(() => load({ env: { FLASHHUB_JWT_SECRET: 'short' } }), /at least 32 characters/);
  });

  test('client id and secret go together', () => {
    assert.throws(() => load({ env: { CLIENT_ID: 'backend' } }), /client_id and client_secret must be given together/);
  });

  test('config file: unknown keys and bad TOML are refused, a missing file is named', async () => {
    const bad = path.join(cwd, 'unknown.toml');
    await writeFile(bad, 'port = 1\nprot = 2\n');
    assert.throws(() => load({ configFile: bad }), /unknown setting\(s\) prot/);
    const broken = path.join(cwd, 'broken.toml');
    await writeFile(broken, 'port = = 1\n');
    assert.throws(() => load({ configFile: broken }), /not valid TOML/);
    assert.throws(() => load({ configFile: path.join(cwd, 'missing.toml') }), /cannot read config file .*missing\.toml: ENOENT/);
  });

  test('--demo turns on the insecure seed modes unless they are set explicitly', () => {
    const demo = load({ flags: { demo: true } }).config;
    assert.equal(demo.openLogin, true);
    assert.equal(demo.allowUserIdParam, true);
    assert.deepEqual(insecureSwitches(demo), ['open_login', 'allow_user_id_param']);
    const strict = load({ flags: { demo: true }, env: { FLASHHUB_OPEN_LOGIN: 'false' } }).config;
    assert.equal(strict.openLogin, false);
  });

  test('listen addresses', () => {
    const { config } = load({ env: { FLASHHUB_LISTEN: ':4500, 127.0.0.1:4501,[::1]:4502' } });
    assert.deepEqual(config.listen, [
      { host: '', port: 4500 },
      { host: '127.0.0.1', port: 4501 },
      { host: '::1', port: 4502 },
    ]);
  });

  test('describeConfig redacts secrets and says where values came from', () => {
    const loaded = load({ env: { JWT_KEY: 'k'.repeat(32), FLASHHUB_PORT: '7000' } });
    const rows = Object.fromEntries(describeConfig(loaded).map((row) => [row.key, row]));
    assert.equal(rows.jwt_secret?.value, '[redacted]');
    assert.equal(rows.jwt_secret?.source, 'environment JWT_KEY');
    assert.equal(rows.port?.value, 7000);
    assert.ok(!JSON.stringify(rows).includes('k'.repeat(32)));
  });
});

describe('webhook settings', () => {
  const secret = 'a-webhook-secret-of-some-length';

  test('repeated flags, or a comma-separated variable, give the list of URLs', () => {
    const fromFlags = load({ flags: { webhook: ['https://a.example/hook', 'http://10.0.0.5:9000/in'] }, env: { FLASHHUB_WEBHOOK_SECRET: secret } });
    assert.deepEqual(fromFlags.config.webhook, ['https://a.example/hook', 'http://10.0.0.5:9000/in']);
    const fromEnv = load({ env: { FLASHHUB_WEBHOOK: 'https://a.example/hook,https://b.example/', FLASHHUB_WEBHOOK_SECRET: secret } });
    assert.deepEqual(fromEnv.config.webhook, ['https://a.example/hook', 'https://b.example/']);
    assert.equal(fromEnv.config.webhookOfflineDelay, 5);
    assert.equal(fromEnv.config.webhookQueue, 10_000);
  });

  test('only http(s) URLs', () => {
    for (const url of ['ftp://a.example/x', 'a.example/hook', 'javascript:alert(1)']) {
      assert.throws(() => load({ env: { FLASHHUB_WEBHOOK: url, FLASHHUB_WEBHOOK_SECRET: secret } }), /webhook .*not (an http\(s\) URL|a URL)/, url);
    }
  });

  test('a URL needs the secret; the secret is redacted', () => {
    assert.throws(() => load({ env: { FLASHHUB_WEBHOOK: 'https://a.example/hook' } }), /webhook needs webhook_secret/);
    const loaded = load({ env: { FLASHHUB_WEBHOOK: 'https://user:pw@a.example/hook', FLASHHUB_WEBHOOK_SECRET: secret } });
    const rows = Object.fromEntries(describeConfig(loaded).map((row) => [row.key, row]));
    assert.equal(rows.webhook_secret?.value, '[redacted]');
    assert.deepEqual(rows.webhook?.value, ['https://***@a.example/hook']);
    assert.ok(!JSON.stringify(rows).includes(secret));
  });

  test('the secret: 16 characters of text, or whsec_ with 24 bytes or more of base64', () => {
    const withSecret = (value: string) => () => load({ env: { FLASHHUB_WEBHOOK: 'https://a.example/', FLASHHUB_WEBHOOK_SECRET: value } });
    assert.throws(withSecret('short-secret'), /webhook_secret .*at least 16 characters/);
    assert.doesNotThrow(withSecret(`whsec_${Buffer.alloc(24, 7).toString('base64')}`));
    assert.throws(withSecret(`whsec_${Buffer.alloc(16, 7).toString('base64')}`), /at least 24 bytes/);
    assert.throws(withSecret('whsec_not base64 at all!!'), /followed by base64/);
  });
});

test("the README's configuration table lists every setting", async () => {
  const { readFile } = await import('node:fs/promises');
  const { envName, fileKey, options } = await import('./config.ts');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const spec of options) {
    assert.ok(readme.includes(`| \`${fileKey(spec.key)}\` | \`${envName(spec.key)}\``), `README lacks ${fileKey(spec.key)}`);
  }
});
