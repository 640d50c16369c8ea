import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ROOT } from './settings';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled time, in ms. */
  readonly totalMs: number;
  /** Self time per package (`pg`, `bullmq`, `@notofine/db`, `(garbage collector)`, ...), in % of the time not idle. */
  readonly byPackage: ReadonlyArray<{ name: string; share: number }>;
  /** Inclusive: the share of the busy time each package is anywhere on the stack (what calling it costs, callees included). */
  readonly onStack: ReadonlyArray<{ name: string; share: number }>;
  /** The functions with the most self time (idle excluded), in % of the time not idle. */
  readonly topFunctions: ReadonlyArray<{ name: string; where: string; share: number }>;
}

/** Where a script comes from: an npm package, one of the workspaces, Node itself. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  // The innermost package: node_modules/a/node_modules/b is b's code.
  const modules = [...url.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
  if (modules.length > 0) return modules.at(-1)![1]!;
  const workspace = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (workspace) return workspace[1] === 'packages' ? `@notofine/${workspace[2]}` : `services/${workspace[2]}`;
  if (url.includes('/bench/')) return 'bench';
  return url;
}

/** Self time per function and per package, from a `.cpuprofile` (`node --cpu-prof`, or the inspector). */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // The packages on a node's stack, each once, memoised per node.
  const stackPackages = new Map<number, ReadonlySet<string>>();
  const packagesOnStack = (id: number): ReadonlySet<string> => {
    const known = stackPackages.get(id);
    if (known) return known;
    const parent = parentOf.get(id);
    const set = new Set(parent === undefined ? [] : packagesOnStack(parent));
    const frame = byId.get(id)!.callFrame;
    if (frame.url) set.add(packageOf(frame.url, frame.functionName));
    stackPackages.set(id, set);
    return set;
  };
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    // A sample's time is the delta to the next one.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dt));
  }
  let busy = 0;
  let total = 0;
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const packages = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const where = frame.url ? `${frame.url.replace(`file://${ROOT}/`, '').replace(`${ROOT}/`, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const pkg = packageOf(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    for (const name of packagesOnStack(id)) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
  const share = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  return {
    file: basename(file),
    totalMs: Math.round(total / 1000),
    byPackage: [...packages]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, us]) => ({ name, share: share(us) })),
    onStack: [...inclusive]
      .filter(([name]) => name !== 'node:internal')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([name, us]) => ({ name, share: share(us) })),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, share: share(f.us) })),
  };
}

export function renderProfile(summary: ProfileSummary): string {
  const lines = [`\n### ${summary.file} (${(summary.totalMs / 1000).toFixed(1)} s sampled; shares of the time not idle)`];
  lines.push(`self time by package: ${summary.byPackage.map((p) => `${p.name} ${p.share}%`).join(', ')}`);
  lines.push(`on the stack (inclusive): ${summary.onStack.map((p) => `${p.name} ${p.share}%`).join(', ')}`);
  for (const f of summary.topFunctions) lines.push(`  ${`${f.share}%`.padStart(6)}  ${f.name}  ${f.where}`);
  return lines.join('\n');
}
