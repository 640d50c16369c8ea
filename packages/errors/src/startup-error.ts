/**
 * A reason the process cannot start that the operator can fix (a database that cannot be reached,
 * a schema not migrated). `main` prints its message, one line, and exits non-zero: no stack trace.
 */
export class StartupError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'StartupError';
  }
}
