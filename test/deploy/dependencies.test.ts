import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as twilio from 'twilio';
import * as twilioWebhooks from 'twilio/lib/webhooks/webhooks';

// What the services load and install, beyond the code: entry points into large SDKs, install-time
// scripts, the images' production installs, and the dependency tree's duplicates.

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const run = promisify(execFile);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier imported by the sources under `dir`. */
const specifiersIn = (dir: string): string[] =>
  sources(join(root, dir)).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s+'([^']+)'/g)].map((match) => match[1]!));

describe('the API', () => {
  it("checks Twilio's signatures with the SDK's webhooks module alone, not the whole SDK", async () => {
    const twilioImports = specifiersIn('services/api/src').filter((specifier) => specifier === 'twilio' || specifier.startsWith('twilio/'));
    expect(new Set(twilioImports)).toEqual(new Set(['twilio/lib/webhooks/webhooks']));
    // The very function the SDK's main entry point exports.
    expect(twilioWebhooks.validateRequest).toBe(twilio.validateRequest);

    // Loading the API's check loads one file of the SDK (its main entry point: its REST client,
    // axios, some 235 modules).
    const script = `require('./services/api/src/webhooks/twilio.ts');
      console.log(JSON.stringify(Object.keys(require.cache).filter((file) => file.includes('/node_modules/twilio/')).map((file) => file.slice(file.indexOf('twilio/')))));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual(['twilio/lib/webhooks/webhooks.js']);
  });
});

/**
 * Runs @scarf/scarf's postinstall script as npm would for a project whose root package.json is
 * `rootPackage`, its reports sent to a loopback server (SCARF_LOCAL_PORT) instead of scarf.sh:
 * how many it sent.
 */
async function scarfReports(rootPackage: unknown): Promise<number> {
  const project = mkdtempSync(join(tmpdir(), 'scarf-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify(rootPackage));
  let reports = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/package-event/install') reports += 1;
    req.resume().on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  try {
    const env = { PATH: process.env.PATH ?? '', HOME: project, TMPDIR: project, INIT_CWD: project, SCARF_LOCAL_PORT: String((server.address() as AddressInfo).port) };
    await run(process.execPath, [require.resolve('@scarf/scarf')], { cwd: project, env, timeout: 20_000 });
    return reports;
  } finally {
    await new Promise((resolve) => server.close(resolve));
    rmSync(project, { recursive: true, force: true });
  }
}

describe('install-time telemetry', () => {
  // swagger-ui-express (the API's docs page) depends on swagger-ui-dist, which depends on
  // @scarf/scarf: its postinstall reports every install to scarf.sh unless the project opts out.
  it("opts out of @scarf/scarf's install report in the root package.json, which npm ci reads everywhere (images included)", async () => {
    const rootPackage = JSON.parse(read('package.json')) as { scarfSettings?: Record<string, unknown> };
    expect(rootPackage.scarfSettings).toEqual({ enabled: false, skipTraversal: true });
    await expect(scarfReports(rootPackage)).resolves.toBe(0);
    // The same script does report for a project that has not opted out.
    await expect(scarfReports({ ...rootPackage, scarfSettings: { skipTraversal: true } })).resolves.toBe(1);
  });
});
