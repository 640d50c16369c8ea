import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitUntil } from './wait';

const root = join(__dirname, '..', '..', '..');

/** A service (API or worker) running as a child process, as in production: the built code, its environment. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  readonly output: string[] = [];

  constructor(
    readonly name: 'api' | 'worker',
    private readonly env: Record<string, string>,
    /** The port whose /readyz says it is up. */
    readonly port: number,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it and waits until it is ready. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, [join(root, 'services', this.name, 'dist', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await waitUntil(`${this.name} to be ready`, async () => {
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.output.join('')}`);
      return fetch(`http://127.0.0.1:${this.port}/readyz`).then((response) => response.ok, () => false);
    });
  }

  /** Sends a signal and waits for the exit; how long it took and how it ended. */
  async signal(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = Date.now();
    this.child?.kill(signal);
    const exit = await this.exit!;
    return { ...exit, ms: Date.now() - started };
  }

  /** Freezes or thaws it (SIGSTOP / SIGCONT): a process that stalls without dying. */
  freeze(frozen: boolean): void {
    this.child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Waits for it to end by itself (the fault hook kills it). */
  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit!;
  }
}
