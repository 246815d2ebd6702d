/**
 * The settings table as an operator meets it: flags with units, a config file, CINEBOX_*
 * variables, one precedence (flag > variable > file > default), clear refusals, and
 * docs/configuration.md that says what the table says.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationTable, CONFIGURATION_PART } from '../../src/cli/docs/configuration.js';
import { generatedPart } from '../../src/cli/docs/generated-section.js';
import * as serverCommand from '../../src/cli/commands/server.js';
import { withCineboxEnv } from '../../src/cli/program.js';
import { formatDuration, parseDuration } from '../../src/cli/durations.js';
import { envNameOf, resolveServerConfig } from '../../src/cli/server-settings.js';
import { formatSize, parseSize } from '../../src/cli/sizes.js';
import { defaultConfig, type ServerConfig } from '../../src/server/config.js';
import { SETTINGS } from '../../src/server/settings.js';
import { builtCli } from './helpers/built-cli.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cinebox-settings-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function configFile(settings: Record<string, unknown>, name = 'cinebox.json'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(settings));
  return path;
}

/** `cinebox server ARGS` parsed in-process by the command module, as main.ts wires it (CINEBOX_* included). */
async function parsed(argv: string[], env: Record<string, string> = {}): Promise<ServerConfig> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let config: ServerConfig | undefined;
    const cli = withCineboxEnv(yargs())
      .command({ ...serverCommand, handler: (args) => void (config = serverCommand.configFromArgs(args)) })
      .strict()
      .fail((message, error) => {
        throw error ?? new Error(message);
      });
    await cli.parseAsync(['server', ...argv]);
    return config!;
  } finally {
    for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('the settings table', () => {
  it('gives the defaults the server always had', () => {
    expect(defaultConfig).toMatchObject({
      host: '0.0.0.0',
      port: 1688,
      maxUploadBytes: 64 * GiB,
      adminQuotaBytes: 10 * GiB,
      uploadExpirySeconds: 86400,
      vipPriceCents: 3000,
      paidPriceVipCents: 500,
      paidPriceNormalCents: 1000,
      minTransferRate: 4096,
      maxHeaderBytes: 65536,
    });
    expect(defaultConfig.adminCode).toBeUndefined();
  });

  it('names every setting by one flag, one variable and one file key', () => {
    const flags = Object.values(SETTINGS).map((s) => s.flag);
    expect(new Set(flags).size).toBe(flags.length);
    expect(envNameOf(SETTINGS.maxConnectionsPerAddress)).toBe('CINEBOX_MAX_CONNECTIONS_PER_ADDRESS');
  });

  it('docs/configuration.md has the table the settings make (else run `npm run docs`)', async () => {
    const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(generatedPart(doc, CONFIGURATION_PART)).toBe(configurationTable());
    for (const setting of Object.values(SETTINGS)) expect(doc).toContain(`| \`--${setting.flag}\` |`);
  });
});

describe('units', () => {
  it.each([
    ['24h', 86400],
    ['30s', 30],
    ['1.5m', 90],
    ['500ms', 0.5],
    ['2 days', 172800],
    ['86400', 86400],
    ['0.25', 0.25],
  ])('the duration %j is %d s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['', 'soon', '-1h', '1e3', 'h'])('%j is not a duration', (text) => expect(() => parseDuration(text)).toThrow(/not a duration/));

  it('writes defaults in the form they are read back in', () => {
    for (const seconds of [86400, 1800, 600, 30, 5, 0.5]) expect(parseDuration(formatDuration(seconds))).toBe(seconds);
    for (const bytes of [64 * GiB, 10 * GiB, 65536, 4096, 1000]) expect(parseSize(formatSize(bytes))).toBe(bytes);
    expect(formatSize(64 * GiB)).toBe('64G');
    expect(formatDuration(86400)).toBe('24h');
  });
});

describe('reading the settings', () => {
  it('takes sizes and durations with units, and the plain numbers they took before', async () => {
    const config = await parsed(['--max-upload', '64G', '--upload-expiry', '24h', '--idle-timeout', '90', '--min-transfer-rate', '8K', '--free-wait', '0']);
    expect(config).toMatchObject({ maxUploadBytes: 64 * GiB, uploadExpirySeconds: 86400, idleTimeoutSeconds: 90, minTransferRate: 8192, freeWaitSeconds: 0 });
    const plain = await parsed(['--max-upload', '1048576', '--upload-expiry', '3600', '--port', '0', '--admin-quota', 'unlimited', '--vip-price', '9.90']);
    expect(plain).toMatchObject({ maxUploadBytes: 1048576, uploadExpirySeconds: 3600, port: 0, adminQuotaBytes: 0, vipPriceCents: 990 });
  });

  it('ranks a flag over a variable over the file over the default', async () => {
    const file = await configFile({ 'max-upload': '1G', 'upload-expiry': '2h', 'idle-timeout': 120, 'vip-price': '12.00' });
    const env = { CINEBOX_MAX_UPLOAD: '2G', CINEBOX_UPLOAD_EXPIRY: '3h' };
    const config = await parsed(['--config', file, '--max-upload', '3G'], env);
    expect(config.maxUploadBytes).toBe(3 * GiB); // flag over variable and file
    expect(config.uploadExpirySeconds).toBe(3 * 3600); // variable over file
    expect(config.idleTimeoutSeconds).toBe(120); // file over default
    expect(config.vipPriceCents).toBe(1200);
    expect(config.scryptN).toBe(defaultConfig.scryptN); // default
  });

  it('takes the config file from CINEBOX_CONFIG too', async () => {
    const file = await configFile({ 'log-level': 'warn' }, 'from-env.json');
    expect((await parsed([], { CINEBOX_CONFIG: file })).logLevel).toBe('warn');
  });

  it.each([
    [{ 'max-uplod': '1G' }, /unknown setting "max-uplod" \(did you mean "max-upload"\?\)/],
    [{ maxUploadBytes: 1 }, /unknown setting "maxUploadBytes" \(did you mean "max-upload"\?\)/],
    [{ 'max-upload': 'big' }, /"max-upload" in .*cinebox\.json: not a size: "big"/],
    [{ port: '1688a' }, /"port" in .*: must be a whole number/],
    [{ 'log-level': 'loud' }, /"log-level" in .*: must be one of trace, /],
    [{ host: 1 }, /"host" in .*: must be a string/],
    [{ 'scrypt-n': 3000 }, /"scrypt-n" in .*: must be a power of two/],
  ])('refuses the file %j with a message that names the setting', async (settings, message) => {
    const file = await configFile(settings);
    expect(() => resolveServerConfig({ config: file })).toThrow(message);
  });

  it('refuses a file that is not a JSON object, or missing', async () => {
    await writeFile(join(dir, 'broken.json'), '{"port": 1688,');
    expect(() => resolveServerConfig({ config: join(dir, 'broken.json') })).toThrow(/broken\.json is not valid JSON/);
    await writeFile(join(dir, 'list.json'), '[1]');
    expect(() => resolveServerConfig({ config: join(dir, 'list.json') })).toThrow(/must hold one JSON object/);
    expect(() => resolveServerConfig({ config: join(dir, 'none.json') })).toThrow(/cannot read the config file .*none\.json/);
  });

  it.each([
    [['--max-upload', 'lots'], /--max-upload \(or CINEBOX_MAX_UPLOAD\): not a size: "lots"/],
    [['--upload-expiry', '-1h'], /--upload-expiry .*not a duration/],
    [['--scrypt-n', '1000'], /--scrypt-n .*must be at least 1024/],
    [['--transfer-window', '0'], /--transfer-window .*must be above 0/],
    [['--port', '70000'], /--port .*must be at most 65535/],
    [['--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
    [['--price-vip', '5.999'], /--price-vip .*must be an amount such as 9.90/],
  ])('refuses %j', async (argv, message) => {
    await expect(parsed(argv)).rejects.toThrow(message);
  });

  it('reads a true/false setting from a flag, a variable and a JSON boolean in the file; refuses anything else', async () => {
    expect((await parsed([])).durable).toBe(true);
    expect((await parsed(['--durable', 'false'])).durable).toBe(false);
    expect((await parsed([], { CINEBOX_DURABLE: 'no' })).durable).toBe(false);
    expect((await parsed(['--config', await configFile({ durable: false }, 'durable.json')])).durable).toBe(false);
    await expect(parsed(['--durable', 'maybe'])).rejects.toThrow('--durable (or CINEBOX_DURABLE): must be true or false, got "maybe"');
  });

  it('leaves an empty admin code unset, as before', async () => {
    expect((await parsed(['--admin-code', ''])).adminCode).toBeUndefined();
  });
});

describe('the built command', { timeout: 120_000 }, () => {
  it('stops at a bad config file with one line naming the key, before opening anything', async () => {
    const main = await builtCli();
    const file = await configFile({ 'media-dir': join(dir, 'm'), 'max-uplod': '1G' }, 'typo.json');
    const failed = await run(process.execPath, [main, 'server', '--config', file], { env: { ...process.env, CINEBOX_PORT: '0' } }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim()).toBe(`cinebox: ${file}: unknown setting "max-uplod" (did you mean "max-upload"?); the keys are the flags of \`cinebox server --help\` without the dashes`);
  });

  it('shows each default in --help in the form it is typed', async () => {
    const main = await builtCli();
    const { stdout } = await run(process.execPath, [main, 'server', '--help']);
    expect(stdout).toMatch(/--max-upload[^\n]*\[default: 64G\]/);
    expect(stdout).toMatch(/--upload-expiry[\s\S]*?\[default: 24h\]/);
    expect(stdout).toContain('--config');
  });
});
