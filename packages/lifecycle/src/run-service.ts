import { ConfigError, USAGE_EXIT_CODE, UsageError, parseCommandLine } from '@notofine/config';
import { StartupError } from '@notofine/errors';

/** A started service: `stop()` drains it (in-flight work finished, connections closed). */
export interface RunningService {
  stop(): Promise<void>;
}

/**
 * The whole of a service's `main`: starts it, and on SIGTERM or SIGINT stops it and exits. It
 * takes no argument: `--help` prints its usage, anything else exits 2 without starting it.
 *
 * A start-up failure the operator can fix (bad configuration, unreachable database) prints its
 * message alone, without a stack trace, and exits with status 1. A second signal during the stop
 * exits at once.
 */
export function runService(name: string, start: () => Promise<RunningService>): void {
  // A service takes no argument: --help says so, anything else is refused before it starts.
  const usage = `Usage: node services/${name}/dist/main.js (npm run start:${name})\n\nStarts the ${name} service, configured by environment variables (see the README's Configuration);\nSIGTERM or SIGINT stops it gracefully.\n\n  -h, --help  print this help\n`;
  try {
    if (parseCommandLine({}).help) {
      process.stdout.write(usage);
      return;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n\n${usage}`);
    process.exitCode = USAGE_EXIT_CODE;
    return;
  }
  start().then(
    (service) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`${name}: ${signal} again, exiting now\n`);
          process.exit(1);
        }
        stopping = true;
        service.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`${name}: stop failed: ${describe(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (error: unknown) => {
      const expected = error instanceof StartupError || error instanceof ConfigError;
      process.stderr.write(`${name}: ${expected ? (error as Error).message : describe(error)}\n`);
      process.exit(1);
    },
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
