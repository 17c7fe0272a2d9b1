// flashhub config init / check: the generated file lists every option, loads as it is and
// uncommented, and check reports every problem of a bad file.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileKey, options } from '../src/config.ts';
import { runCli, startFlashhub, tempDir } from './support/flashhub.ts';

/** `# key = value` lines are the options; prose lines never look like that. */
const optionLine = /^# ([a-z_]+) = /;
const uncomment = (text: string) =>
  text
    .split('\n')
    .map((line) => (optionLine.test(line) ? line.slice(2) : line))
    .join('\n');

describe('flashhub config init and check', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  before(async () => {
    dir = await tempDir();
    file = path.join(dir.path, 'flashhub.toml');
  });
  after(() => dir.remove());

  test('init writes every option of the table, commented out with its default', async () => {
    const result = await runCli(['config', 'init', file]);
    assert.equal(result.code, 0, result.stderr);
    const text = await readFile(file, 'utf8');
    const keys = text.split('\n').flatMap((line) => optionLine.exec(line)?.[1] ?? []);
    assert.equal(keys.length, options.length);
    assert.deepEqual(keys, options.map((spec) => fileKey(spec.key)));
    assert.match(text, /^# port = 8080$/m);
    assert.match(text, /^# origins = \[\]$/m);
    assert.match(text, /^# redis_prefix = "fh:"$/m);
    assert.match(text, /^# jwt_secret = ""$/m);
    assert.match(text, /openssl rand -base64 32/);
    assert.match(text, /FLASHHUB_USER_TOKEN_TTL \(also JWT_EXP\)/);
    assert.match(text, /INSECURE.*\n# open_login = false$/m);
    // the same text on standard output
    const stdout = await runCli(['config', 'init']);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.equal(stdout.stdout, text);
    assert.equal((await runCli(['config', 'init', '-'])).stdout, text);
  });

  test('the generated file passes check, as it is and with every option uncommented', async () => {
    // A caller's environment must not count: a bad FLASHHUB_PORT does not fail the file.
    const result = await runCli(['config', 'check', file], { env: { FLASHHUB_PORT: 'nope', JWT_KEY: 'short' } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${file}: ok\n`);
    const uncommented = path.join(dir.path, 'uncommented.toml');
    await writeFile(uncommented, uncomment(await readFile(file, 'utf8')));
    const check = await runCli(['config', 'check', uncommented]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, `${uncommented}: ok\n`);
  });

  test('serve starts with the uncommented file', async () => {
    const uncommented = path.join(dir.path, 'uncommented.toml');
    const data = path.join(dir.path, 'data');
    const server = await startFlashhub(['--config', uncommented, '--data', data]);
    try {
      const shown = await runCli(['config', '--json', '--config', uncommented]);
      assert.equal(shown.code, 0, shown.stderr);
      const port = JSON.parse(shown.stdout).settings.find((s: { key: string }) => s.key === 'port');
      assert.equal(port.source, `file ${uncommented}`);
      assert.ok(server.port > 0);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('check names every problem: unknown keys and bad values', async () => {
    const bad = path.join(dir.path, 'bad.toml');
    await writeFile(bad, 'port = "eighty"\nfrobnicate = true\nlog_level = "loud"\n');
    const result = await runCli(['config', 'check', bad]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /unknown setting frobnicate/);
    assert.match(result.stderr, /port \(from file .*bad\.toml\): must be a whole number/);
    assert.match(result.stderr, /log_level .*must be one of debug, info, warn, error/);
    const broken = path.join(dir.path, 'broken.toml');
    await writeFile(broken, 'port = \n');
    const parse = await runCli(['config', 'check', broken]);
    assert.equal(parse.code, 2);
    assert.match(parse.stderr, /not valid TOML/);
    const missing = await runCli(['config', 'check', path.join(dir.path, 'missing.toml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file .*missing\.toml: ENOENT/);
  });

  test('init refuses to overwrite a file unless --force', async () => {
    await writeFile(file, 'port = 9000\n');
    const refused = await runCli(['config', 'init', file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already exists \(add --force/);
    assert.equal(await readFile(file, 'utf8'), 'port = 9000\n');
    const forced = await runCli(['config', 'init', file, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await readFile(file, 'utf8'), /^# port = 8080$/m);
  });
});
