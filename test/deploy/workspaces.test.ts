import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

// Each service is built and installed alone in its container (`npm ci --workspace`, `tsc -b`):
// a package it imports but does not declare, or a workspace it does not reference, breaks there
// and nowhere else. These checks make that break here.

const root = join(__dirname, '..', '..');
const workspaces: string[] = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The packages a workspace's sources import (`@scope/name` or `name`), Node's own left out. */
function importedPackages(workspace: string): Set<string> {
  const found = new Set<string>();
  for (const file of sources(join(root, workspace, 'src'))) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s+'([^.'][^']*)'/g)) {
      const name = specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!;
      if (!name.startsWith('node:') && !builtinModules.includes(name)) found.add(name);
    }
  }
  return found;
}

const names = new Map(workspaces.map((workspace) => [(JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as Manifest).name, workspace]));

describe.each(workspaces)('%s', (workspace) => {
  const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as Manifest;
  const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }));
  const imported = importedPackages(workspace);

  it('declares every package its sources import', () => {
    expect([...imported].filter((name) => !declared.has(name))).toEqual([]);
  });

  it('imports every package it declares: an unused one is only weight in the image', () => {
    // A type package (@types/x) is used where x is.
    const used = (name: string) => imported.has(name) || (name.startsWith('@types/') && imported.has(name.slice('@types/'.length).replace(/^(.+)__/, '@$1/')));
    expect([...declared].filter((name) => !used(name))).toEqual([]);
  });

  it('references, for the build, every workspace it imports', () => {
    const build = JSON.parse(readFileSync(join(root, workspace, 'tsconfig.build.json'), 'utf8')) as { references?: Array<{ path: string }> };
    const referenced = new Set((build.references ?? []).map((reference) => relative(root, join(root, workspace, reference.path, '..'))));
    const needed = [...imported].filter((name) => names.has(name)).map((name) => names.get(name)!);
    expect(needed.filter((dependency) => !referenced.has(dependency))).toEqual([]);
  });
});
