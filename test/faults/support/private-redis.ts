import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { waitUntil } from './wait';

const run = promisify(execFile);

/** A Redis server of the fault tests' own, on a free port, with nothing kept on disk. */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'notofine-faults-redis-'));
  private process: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort());
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    await waitUntil('Redis to answer', () => this.command('PING').then((reply) => reply === 'PONG', () => false));
  }

  /** Kills it (its data, all in memory, is gone). */
  async pause(): Promise<void> {
    const running = this.process;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  async flush(): Promise<void> {
    await this.command('FLUSHALL');
  }

  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One command through redis-cli: no client of the test process's own to outlive a killed server. */
  private async command(name: string): Promise<string> {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), name], { timeout: 5000 });
    return stdout.trim();
  }
}
