/**
 * `npm run bench:instructions [-- --route=send|refused|batch|list] [-- --requests=300,1300] [-- --cpu-prof]`: instructions the
 * API spends on a request, counted by valgrind (cachegrind), which the host's noise does not touch
 * (see BENCHMARKS.md, "Comparing two builds on this machine"). Builds nothing: run it on the
 * built services, once per build to compare.
 *
 * The API runs in process (`start({ listen: false })`, with its image's Node flags) against the real
 * PostgreSQL and Redis, in a schema and queue prefix of its own, and gets the requests from a
 * keep-alive client in the same process, 100 at a time. It runs twice, for two numbers of
 * requests: the difference of the totals over the difference of the numbers is the cost of one
 * request, start-up and shutdown left out (the client's share included, the same for every build).
 *
 * - `send` (default): `POST /notifications/send` with the bootstrap key, to 100 users made first.
 * - `refused`: the same request without a key, answered 401 (routing, authentication, problem+json).
 * - `batch`: `POST /notifications/batch` of 1,000 emails, 4 at a time (also given per notification).
 * - `list`: `GET /users/{id}/notifications?limit=10`, each user having 10.
 *
 * `--cpu-prof` counts nothing: it runs the child once, without valgrind, for the larger number of
 * requests, with Node's `--cpu-prof` (profiles kept in bench/profiles), and prints where the time
 * of the API and its client went, setup included.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, createScope, prepareDatabase } from './lib/infra';
import { imageNodeFlags, PROFILE_DIR } from './lib/processes';
import { renderProfile, summariseProfile } from './lib/profile-summary';
import { readSettings, ROOT } from './lib/settings';

const ROUTES = ['send', 'refused', 'batch', 'list'] as const;
type Route = (typeof ROUTES)[number];

function option(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

const CHILD = join(__dirname, 'lib', 'instructions-child.ts');

/** Instructions of one valgrind run of the child with `requests` requests. */
function countInstructions(env: Record<string, string>, route: Route, requests: number): number {
  const run = spawnSync(
    'valgrind',
    ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, ...imageNodeFlags('api'), '--import', 'tsx', CHILD, route, String(requests)],
    { cwd: ROOT, env: childEnv(env), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.error) throw new Error(`valgrind could not run (${run.error.message}): apt-get install valgrind`);
  const refs = /I\s+refs:\s+([\d,]+)/.exec(run.stderr)?.[1];
  const answered = /^answered (.*)$/m.exec(run.stderr)?.[1];
  if (run.status !== 0 || !refs) throw new Error(`the counted run failed (${String(run.status)}):\n${run.stderr.slice(-4000)}`);
  console.log(`  ${requests} requests: ${refs} instructions (${answered ?? '?'})`);
  return Number(refs.replace(/,/g, ''));
}

/** One run of the child with `--cpu-prof`, its profiles kept in bench/profiles; prints their summary. */
function profile(env: Record<string, string>, route: Route, requests: number): void {
  const dir = join(PROFILE_DIR, `${route}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const run = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...imageNodeFlags('api'), '--import', 'tsx', CHILD, route, String(requests)], {
    cwd: ROOT,
    env: childEnv(env),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`the profiled run failed (${String(run.status)}):\n${run.stderr.slice(-4000)}`);
  console.log(`route ${route}, ${requests} requests: ${/^answered (.*)$/m.exec(run.stderr)?.[1] ?? '?'}; profiles in ${dir}`);
  // The main thread's profile: the other is tsx's module loader thread.
  const summaries = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => summariseProfile(join(dir, name), 30));
  const main = summaries.find((summary) => summary.onStack.some((entry) => entry.name === 'services/api'));
  if (!main) throw new Error(`no profile in ${dir} has the API on its stacks`);
  console.log(renderProfile(main));
}

async function main(): Promise<void> {
  const route = option('route', 'send') as Route;
  if (!ROUTES.includes(route)) throw new Error(`--route=${route}: use ${ROUTES.join(' or ')}`);
  const [fewer, more] = option('requests', '300,1300').split(',').map(Number);
  if (!fewer || !more || more <= fewer) throw new Error('--requests=A,B wants two numbers, the second larger');
  const settings = readSettings([]);
  await prepareDatabase(settings);
  const scope = await createScope(settings, 'instructions');
  try {
    // Lines of the API's log would be counted too: errors only.
    const env = { ...scope.serviceEnv, NODE_ENV: 'development', LOG_LEVEL: 'error', USER_RATE_LIMIT: '1000000/1s' };
    if (process.argv.includes('--cpu-prof')) {
      profile(env, route, more);
      return;
    }
    console.log(`instructions per request, route ${route}, API flags [${imageNodeFlags('api').join(' ')}]`);
    const a = countInstructions(env, route, fewer);
    const b = countInstructions(env, route, more);
    const perRequest = (b - a) / (more - fewer);
    console.log(`${(perRequest / 1e6).toFixed(3)} million instructions per request`);
    if (route === 'batch') console.log(`${(perRequest / 1000 / 1e3).toFixed(1)} thousand instructions per notification`);
  } finally {
    await scope.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
