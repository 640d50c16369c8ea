import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { instructions, stages } from '@test/dockerfile';
import * as twilio from 'twilio';
import * as twilioWebhooks from 'twilio/lib/webhooks/webhooks';
import { startFcmServer, type LoopbackFcm } from '../../packages/providers/test/loopback/fcm-server';

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

    // Loading the API's check loads that one file of the SDK (its main entry point would load its
    // REST client and axios: some 235 modules).
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

// ---- the images' production installs ---------------------------------------------------------------

interface LockedPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
}

const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
const locked = (JSON.parse(read('package-lock.json')) as { packages: Record<string, LockedPackage> }).packages;
/** npm, on the Node that runs these tests (on the images' Node in CI's main pass). */
const npm = (args: string[], cwd: string) =>
  run('npm', args, { cwd, env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });

/** The runtime stage's `npm ci` of a service's Dockerfile, as arguments. */
function imageInstall(service: string): string[] {
  const runtime = stages(instructions(read(`services/${service}/Dockerfile`))).at(-1)!;
  const commands = runtime.filter((i) => i.name === 'RUN').flatMap((i) => i.args.split('&&').map((command) => command.trim()));
  const install = commands.filter((command) => command.startsWith('npm ci '));
  expect(install).toHaveLength(1);
  return install[0]!.split(/\s+/).slice(1);
}

/**
 * A directory laid out as the service's image: the manifests and the lockfile installed with the
 * Dockerfile's own command, then the compiled workspaces (built here if need be) and the templates.
 */
async function installAsImage(service: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `image-${service}-`));
  for (const file of ['package.json', 'package-lock.json', ...workspaces.map((workspace) => `${workspace}/package.json`)]) {
    mkdirSync(join(dir, dirname(file)), { recursive: true });
    cpSync(join(root, file), join(dir, file));
  }
  await npm(imageInstall(service), dir);
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', `services/${service}/tsconfig.build.json`], { cwd: root, timeout: 300_000 });
  for (const workspace of [...workspaces.filter((w) => w.startsWith('packages/')), `services/${service}`]) {
    cpSync(join(root, workspace, 'dist'), join(dir, workspace, 'dist'), { recursive: true });
  }
  cpSync(join(root, 'packages/notifications/templates'), join(dir, 'packages/notifications/templates'), { recursive: true });
  return dir;
}

/** The lockfile's packages a production install must leave out when it omits optional ones. */
const optionalOnly = Object.entries(locked)
  .filter(([path, entry]) => path.includes('node_modules/') && !entry.dev && (entry.optional || entry.devOptional))
  .map(([path]) => path);

describe.each([
  ['api', 'services/api/dist/api-service.js'],
  ['worker', 'services/worker/dist/worker-service.js'],
] as const)("the %s image's production install", (service, entryPoint) => {
  let dir: string;
  beforeAll(async () => {
    dir = await installAsImage(service);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves out dev and optional packages', () => {
    expect(imageInstall(service)).toEqual(expect.arrayContaining(['--omit=dev', '--omit=optional', '--workspace', `services/${service}`]));
    expect(optionalOnly).toEqual(expect.arrayContaining(['node_modules/msgpackr-extract']));
    expect(optionalOnly.filter((path) => existsSync(join(dir, path)))).toEqual([]);
  });

  it('holds every package the service loads', async () => {
    const script = `require(${JSON.stringify(`./${entryPoint}`)}); console.log('loaded');`;
    await expect(run(process.execPath, ['-e', script], { cwd: dir, timeout: 60_000 })).resolves.toMatchObject({ stdout: 'loaded\n' });
  });

  if (service === 'worker') {
    it("sends a push with firebase-admin's messaging, without its Firestore and Storage clients", async () => {
      const fcm: LoopbackFcm = await startFcmServer('notofine-image');
      try {
        const script = `
          const { FcmPushProvider } = require('@notofine/providers');
          const absent = ['@google-cloud/firestore', '@google-cloud/storage'].filter((name) => { try { require.resolve(name); return false; } catch { return true; } });
          const provider = new FcmPushProvider({ projectId: 'notofine-image', credentials: JSON.parse(process.env.FCM_SERVICE_ACCOUNT), baseUrl: process.env.FCM_URL, timeoutMs: 10000 }, undefined);
          provider.send({ notificationId: 1, tokens: ['token-a'], title: 'Rappel', body: 'Votre contravention est due.' })
            .then(async (outcome) => { await provider.close(); console.log(JSON.stringify({ absent, accepted: outcome.accepted.length, refused: outcome.refused.length })); });`;
        const env = { PATH: process.env.PATH ?? '', FCM_URL: fcm.server.url, FCM_SERVICE_ACCOUNT: JSON.stringify(fcm.serviceAccount) };
        const { stdout } = await run(process.execPath, ['-e', script], { cwd: join(dir, 'services/worker'), env, timeout: 60_000 });
        expect(JSON.parse(stdout)).toEqual({ absent: ['@google-cloud/firestore', '@google-cloud/storage'], accepted: 1, refused: 0 });
        expect(fcm.sends()).toEqual(['token-a']);
      } finally {
        await fcm.server.close();
      }
    });
  }
});

// ---- the dependency tree ---------------------------------------------------------------------------

/**
 * Direct dependencies installed in two majors, with the majors and why it cannot be avoided yet.
 * A new duplicate fails the test below: move the dependency, or its dependents, to one major, or
 * say here why not.
 */
const KNOWN_DUPLICATES: Record<string, { majors: string[]; why: string }> = {
  ajv: { majors: ['6', '8'], why: 'ESLint (9, and 10 too) needs ajv 6; the OpenAPI conformance check uses ajv 8' },
  'ajv-formats': {
    majors: ['2', '3'],
    why: "kubernetes-models 4's validator needs ajv-formats 2; kubernetes-models 5 is ES modules only, exported for import alone, which Jest's CommonJS loader cannot resolve",
  },
  'openapi3-ts': { majors: ['3', '4'], why: 'class-validator-jsonschema, at its latest (5.2), needs openapi3-ts 3; the API types its OpenAPI document with 4' },
};

it('installs each direct dependency in one major, the known exceptions aside', () => {
  const manifests = ['.', ...workspaces].map((workspace) => JSON.parse(read(`${workspace}/package.json`)) as Record<string, Record<string, string> | undefined>);
  const direct = new Set(manifests.flatMap((manifest) => ['dependencies', 'devDependencies', 'optionalDependencies'].flatMap((field) => Object.keys(manifest[field] ?? {}))));
  const majors = new Map<string, Set<string>>();
  for (const [path, entry] of Object.entries(locked)) {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!path.includes('node_modules/') || !direct.has(name) || !entry.version) continue;
    const [major, minor] = entry.version.split('.');
    majors.set(name, (majors.get(name) ?? new Set()).add(major === '0' ? `0.${minor}` : major!));
  }
  const duplicated = Object.fromEntries([...majors].filter(([, found]) => found.size > 1).map(([name, found]) => [name, [...found].sort((a, b) => Number(a) - Number(b))]));
  expect(duplicated).toEqual(Object.fromEntries(Object.entries(KNOWN_DUPLICATES).map(([name, known]) => [name, known.majors])));
});
