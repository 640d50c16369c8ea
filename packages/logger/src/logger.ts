import { AsyncLocalStorage } from 'node:async_hooks';
import type { Writable } from 'node:stream';
import winston from 'winston';
import { LineBuffer } from './line-buffer';
import { redactField, redactText } from './redact';

export type LogFields = Record<string, unknown>;

/** What code logs through: winston underneath, with context and redaction added to every entry. */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to each of its entries. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** The process's name, on every entry (`api`, `worker`, ...). */
  service: string;
  level: string;
  format: 'json' | 'pretty';
  /** Where lines go; standard output when absent. */
  stream?: Writable;
}

const context = new AsyncLocalStorage<LogFields>();

/**
 * Runs `fn` with `fields` (e.g. `{ request_id }` or `{ job_id, queue }`) added to every entry logged
 * inside it, across awaits.
 */
export function withLogContext<T>(fields: LogFields, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/** The fields of the current log context (empty outside one). */
export function currentLogContext(): LogFields {
  return context.getStore() ?? {};
}

// Mutates the entry in place: winston keeps its own bookkeeping under symbol keys.
const addContextAndRedact = winston.format((info) => {
  const entry = info as Record<string, unknown>;
  for (const [key, value] of Object.entries(currentLogContext())) {
    if (entry[key] === undefined) entry[key] = value;
  }
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'level') continue;
    entry[key] = key === 'message' && typeof value === 'string' ? redactText(value) : redactField(key, value);
  }
  return info;
});

const pretty = winston.format.printf((info) => {
  const { level, message, timestamp, service, ...fields } = info;
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${String(timestamp)} ${level.padEnd(5)} [${String(service)}] ${String(message)}${rest ? `  ${rest}` : ''}`;
});

let stdoutLines: LineBuffer | undefined;

/** Standard output, one write per turn of the event loop (shared by every logger of the process). */
function standardOutput(): LineBuffer {
  stdoutLines ??= new LineBuffer(process.stdout);
  return stdoutLines;
}

/** Creates the root logger of a process. */
export function createLogger(options: LoggerOptions): Logger {
  const transport = new winston.transports.Stream({ stream: options.stream ?? standardOutput() });
  const format =
    options.format === 'json'
      ? winston.format.combine(addContextAndRedact(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(addContextAndRedact(), winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), pretty);
  const root = winston.createLogger({
    level: options.level,
    defaultMeta: { service: options.service },
    format,
    transports: [transport],
  });
  return wrap(root);
}

function wrap(target: winston.Logger): Logger {
  return {
    error: (message, fields) => target.error(message, fields),
    warn: (message, fields) => target.warn(message, fields),
    info: (message, fields) => target.info(message, fields),
    debug: (message, fields) => target.debug(message, fields),
    child: (fields) => wrap(target.child(fields)),
  };
}
