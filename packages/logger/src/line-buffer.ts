import { Writable } from 'node:stream';

/** Where a {@link LineBuffer} writes: standard output, or any stream that takes strings. */
export interface LineSink {
  write(text: string): unknown;
}

/**
 * Log lines gathered for one turn of the event loop, then written in one go: a busy API logs
 * several requests in one turn, and a write to standard output is a system call each (it is
 * synchronous for files and pipes). Lines keep their order; at low load a turn holds one line and
 * it goes out at the end of that turn, never later.
 *
 * What is pending is written at once when the process exits (`process.exit`, an uncaught
 * exception, the end of the event loop): only a SIGKILL can cut off the lines of its last turn.
 */
export class LineBuffer extends Writable {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushOnExit = () => this.flush();

  constructor(private readonly sink: LineSink) {
    super({ decodeStrings: false });
    process.on('exit', this.flushOnExit);
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.pending.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    done();
  }

  /** Writes what is pending now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.sink.write(text);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.flush();
    process.off('exit', this.flushOnExit);
    done();
  }
}
