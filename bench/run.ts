/**
 * `npm run bench [-- --quick] [-- --only=delivery,reads] [-- --profile]`: builds the services, then
 * runs the benchmark suite against the real PostgreSQL and Redis (see BENCHMARKS.md).
 *
 * The suite is imported only after the build: it loads the packages' dist/ as the services do.
 */
import { spawnSync } from 'node:child_process';
import { readSettings, ROOT } from './lib/settings';

async function main(): Promise<void> {
  const settings = readSettings();
  if (!settings.skipBuild) {
    console.log('building (npm run -s build)...');
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed: the benchmark runs the built services');
  }
  const { runSuite } = await import('./suite.js');
  process.exitCode = await runSuite(settings);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
