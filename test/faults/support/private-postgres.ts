import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of the fault tests' own (initdb into a temporary folder, a free port), so
 * that stopping it hurts nobody else. The cluster runs as the `postgres` system user: initdb
 * refuses root.
 */
export class PrivatePostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'notofine-faults-pg-'));
  private constructor(readonly port: number) {}

  /** Starts a new cluster with one empty database. */
  static async start(database: string): Promise<PrivatePostgres> {
    const server = new PrivatePostgres(await freePort());
    chownSync(server.dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
    server.asPostgres(`${BIN}/initdb`, ['-D', server.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    server.resume();
    server.asPostgres(`${BIN}/createdb`, ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', database]);
    return server;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts (again) and waits until it accepts connections. */
  resume(): void {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    this.asPostgres(`${BIN}/pg_ctl`, ['-D', this.data, '-o', options, '-l', join(this.dir, 'log'), '-w', 'start']);
  }

  /** Stops at once: clients lose their connections (`-m fast`). */
  pause(): void {
    this.asPostgres(`${BIN}/pg_ctl`, ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }

  stop(): void {
    try {
      this.pause();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private asPostgres(command: string, args: string[]): void {
    execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
  }
}
