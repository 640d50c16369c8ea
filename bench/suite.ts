import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Context } from './lib/context';
import { connectBenchRedis, connectClient, prepareDatabase } from './lib/infra';
import { startLoopbacks } from './lib/loopbacks';
import { pgStatStatementsAvailable } from './lib/observe';
import { LOG_DIR, PROFILE_DIR } from './lib/processes';
import { renderProfile, summariseProfile, type ProfileSummary } from './lib/profile-summary';
import { renderObservations, renderTable, row, type ScenarioResult } from './lib/report';
import { BENCH_DIR, ROOT, type ScenarioName, type Settings } from './lib/settings';
import { runDelivery } from './scenarios/delivery';
import { runIngest } from './scenarios/ingest';
import { runMemory } from './scenarios/memory';
import { runReads } from './scenarios/reads';
import { runReminders } from './scenarios/reminders';

const RUNNERS: Record<ScenarioName, (ctx: Context) => Promise<ScenarioResult>> = {
  delivery: runDelivery,
  ingest: runIngest,
  reminders: runReminders,
  reads: runReads,
  memory: runMemory,
};

/** The machine and the software measured: every figure depends on them. */
async function describeMachine(settings: Settings): Promise<Record<string, unknown>> {
  const client = await connectClient(settings);
  const redis = await connectBenchRedis(settings);
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    const info = await redis.info('server');
    const git = (args: string[]) => {
      try {
        return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        return 'unknown';
      }
    };
    return {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: rows[0]?.server_version,
      redis: /redis_version:(\S+)/.exec(info)?.[1],
      commit: git(['rev-parse', '--short', 'HEAD']),
      uncommittedFiles: git(['status', '--porcelain']).split('\n').filter(Boolean).length,
      loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    };
  } finally {
    await client.end();
    await redis.quit();
  }
}

/** Runs the chosen scenarios, prints the table, writes bench/last.json; returns the exit code. */
export async function runSuite(settings: Settings): Promise<number> {
  const startedAt = new Date();
  mkdirSync(LOG_DIR, { recursive: true });
  await prepareDatabase(settings);
  const machine = await describeMachine(settings);
  const statements = await pgStatStatementsAvailable(settings);
  const profileDir = settings.profile ? join(PROFILE_DIR, startedAt.toISOString().replace(/[:.]/g, '-')) : undefined;
  console.log(
    `notofine bench${settings.quick ? ' (quick)' : ''}: ${settings.scenarios.join(', ')} on ${String(machine.cpus)} cores, ${String(machine.memoryGiB)} GiB, node ${process.version}, PostgreSQL ${String(machine.postgres)}, Redis ${String(machine.redis)}`,
  );
  console.log(`statements: ${statements.reason}`);
  if (profileDir) console.log(`CPU profiles: ${profileDir}`);

  const loopbacks = await startLoopbacks();
  const ctx: Context = { settings, loopbacks, pgStatements: statements.available, profileDir };
  const results: ScenarioResult[] = [];
  let failed = 0;
  try {
    for (const name of settings.scenarios) {
      const started = Date.now();
      try {
        results.push(await RUNNERS[name](ctx));
      } catch (error) {
        failed += 1;
        const message = error instanceof Error ? error.message : String(error);
        console.error(`\n!! scenario ${name} failed: ${error instanceof Error ? error.stack : message}`);
        results.push({ name, rows: [row(name, 'FAILED', message.split('\n')[0]!.slice(0, 120))], details: { error: message }, observations: {} });
      }
      console.log(`  (${name}: ${Math.round((Date.now() - started) / 1000)} s)`);
    }
  } finally {
    await loopbacks.close();
  }

  const profiles: ProfileSummary[] = [];
  if (profileDir && existsSync(profileDir)) {
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) profiles.push(summariseProfile(join(profileDir, file)));
  }

  const rows = results.flatMap((result) => result.rows);
  const table = renderTable(rows);
  console.log(`\n${table}`);
  console.log(`\nWhat PostgreSQL and Redis were busy with (${statements.reason}):${renderObservations(results)}`);
  for (const profile of profiles) console.log(renderProfile(profile));

  const finishedAt = new Date();
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    minutes: Math.round(((finishedAt.getTime() - startedAt.getTime()) / 60_000) * 10) / 10,
    machine: { ...machine, loadAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    settings,
    statementSource: statements.reason,
    table,
    rows,
    scenarios: results,
    profiles,
  };
  writeFileSync(join(BENCH_DIR, 'last.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote bench/last.json (${report.minutes} min)${failed ? `; ${failed} scenario(s) failed` : ''}`);
  return failed > 0 ? 1 : 0;
}
