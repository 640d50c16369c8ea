import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, freePort, httpRequest, sleep } from './infra';
import { BENCH_DIR, ROOT } from './settings';

export const LOG_DIR = join(BENCH_DIR, 'logs');
export const PROFILE_DIR = join(BENCH_DIR, 'profiles');

/** A built service (API or worker) running as a child process, as in production. */
export interface ServiceProcess {
  readonly kind: 'api' | 'worker';
  readonly name: string;
  readonly pid: number;
  /** The API's port, or the worker's health port. */
  readonly port: number;
  readonly url: string;
  readonly logFile: string;
  /** Resident set size now, in MiB (VmRSS of /proc/<pid>/status). */
  rssMiB(): number;
  /** CPU time used so far (user + system), in seconds. */
  cpuSeconds(): number;
  /** SIGTERM, then waits for the exit (SIGKILL past the timeout). */
  stop(): Promise<number | null>;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;

/** User + system CPU time of a process so far, in seconds. */
export function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (in parentheses, which may hold spaces): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** VmRSS of a process, in MiB. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for pid ${pid}`);
  return kib / 1024;
}

/**
 * The Node flags the service's image runs it with (the `CMD` of its Dockerfile, e.g.
 * `--max-semi-space-size=64`): the bench runs the services as they are deployed.
 */
export function imageNodeFlags(kind: 'api' | 'worker'): string[] {
  const dockerfile = readFileSync(join(ROOT, `services/${kind}/Dockerfile`), 'utf8');
  const command = [...dockerfile.matchAll(/^CMD (\[.*\])\s*$/gm)].map((match) => JSON.parse(match[1]!) as string[]).at(-1) ?? [];
  const main = command.indexOf(`services/${kind}/dist/main.js`);
  if (command[0] !== 'node' || main < 0) throw new Error(`services/${kind}/Dockerfile: its CMD does not run node services/${kind}/dist/main.js`);
  return command.slice(1, main);
}

/**
 * Starts `services/<kind>/dist/main.js` with the scenario's environment, its output in
 * bench/logs/<name>.log, and waits until its `/readyz` answers 200.
 */
export async function startService(
  kind: 'api' | 'worker',
  name: string,
  env: Record<string, string>,
  options: { profileDir?: string | undefined } = {},
): Promise<ServiceProcess> {
  mkdirSync(LOG_DIR, { recursive: true });
  const port = await freePort();
  const logFile = join(LOG_DIR, `${name}.log`);
  const fd = openSync(logFile, 'w');
  // --cpu-prof is not allowed in NODE_OPTIONS: it goes on the command line.
  const profiling = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [...profiling, ...imageNodeFlags(kind), `services/${kind}/dist/main.js`], {
    cwd: ROOT,
    env: childEnv({
      ...env,
      HOST: '127.0.0.1',
      ...(kind === 'api' ? { PORT: String(port), HEALTH_PORT: '0' } : { PORT: '0', HEALTH_PORT: String(port) }),
    }),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      resolve(code);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${name} exited (${exitCode}) before it was ready:\n${tail(logFile)}`);
    try {
      const answer = await httpRequest(`${url}/readyz`, { timeoutMs: 2000 });
      if (answer.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within 60 s:\n${tail(logFile)}`);
    }
    await sleep(100);
  }
  const pid = child.pid!;
  return {
    kind,
    name,
    pid,
    port,
    url,
    logFile,
    rssMiB: () => rssOf(pid),
    cpuSeconds: () => cpuOf(pid),
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The last lines of a log, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
