/**
 * `npm run bench:instructions [-- --route=send|refused] [-- --requests=300,1300]`: instructions the
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
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { childEnv, createScope, prepareDatabase } from './lib/infra';
import { imageNodeFlags } from './lib/processes';
import { readSettings, ROOT } from './lib/settings';

const ROUTES = ['send', 'refused'] as const;
type Route = (typeof ROUTES)[number];

function option(name: string, fallback: string): string {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

/** Instructions of one valgrind run of the child with `requests` requests. */
function countInstructions(env: Record<string, string>, route: Route, requests: number): number {
  const child = join(__dirname, 'lib', 'instructions-child.ts');
  const run = spawnSync(
    'valgrind',
    ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, ...imageNodeFlags('api'), '--import', 'tsx', child, route, String(requests)],
    { cwd: ROOT, env: childEnv(env), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.error) throw new Error(`valgrind could not run (${run.error.message}): apt-get install valgrind`);
  const refs = /I\s+refs:\s+([\d,]+)/.exec(run.stderr)?.[1];
  const answered = /^answered (.*)$/m.exec(run.stderr)?.[1];
  if (run.status !== 0 || !refs) throw new Error(`the counted run failed (${String(run.status)}):\n${run.stderr.slice(-4000)}`);
  console.log(`  ${requests} requests: ${refs} instructions (${answered ?? '?'})`);
  return Number(refs.replace(/,/g, ''));
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
    console.log(`instructions per request, route ${route}, API flags [${imageNodeFlags('api').join(' ')}]`);
    const a = countInstructions(env, route, fewer);
    const b = countInstructions(env, route, more);
    console.log(`${((b - a) / (more - fewer) / 1e6).toFixed(3)} million instructions per request`);
  } finally {
    await scope.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
