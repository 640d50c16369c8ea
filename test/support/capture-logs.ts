import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@notofine/logger';

/** A JSON logger whose lines are kept in memory, to assert on what gets logged. */
export function captureLogs(service = 'test'): { logger: Logger; lines: string[]; entries: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ service, level: 'debug', format: 'json', stream });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
