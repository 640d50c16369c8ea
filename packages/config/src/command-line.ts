import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit status of a command given arguments it does not take (as getopt-style tools answer). */
export const USAGE_EXIT_CODE = 2;

/** The command line is not one the command takes: it exits 2, with what is wrong and its usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** A parsed command line: `help` when `--help` (or `-h`) was given, whatever else was. */
export type CommandLine<T extends Options> =
  | { readonly help: true }
  | { readonly help: false; readonly values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>>['values']; readonly positionals: readonly string[] };

/**
 * Parses a command's arguments with node:util's parseArgs, strictly: an unknown option, an option
 * without its value, or an argument where the command takes none is a {@link UsageError}. `--help`
 * and `-h` are every command's.
 *
 * @param positionals how many arguments (not options) the command takes at most
 */
export function parseCommandLine<T extends Options>(options: T, { positionals = 0, args = process.argv.slice(2) }: { positionals?: number; args?: readonly string[] } = {}): CommandLine<T> {
  if (args.includes('--help') || args.includes('-h')) return { help: true };
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    if (parsed.positionals.length > positionals) {
      const extra = parsed.positionals.slice(positionals).map((arg) => `"${arg}"`).join(', ');
      throw new UsageError(positionals === 0 ? `This command takes no arguments (got ${extra}).` : `Unexpected argument ${extra}.`);
    }
    return { help: false, values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message);
    throw error;
  }
}

function isParseArgsError(error: unknown): error is Error {
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/**
 * Whether npm kept a flag for itself: `npm run <script> --dry-run`, without `--` before the flag,
 * hands the script no argument but sets `npm_config_dry_run=true` in its environment.
 */
export function npmTookFlag(flag: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return env[`npm_config_${flag.replace(/^--/, '').replace(/-/g, '_')}`] === 'true';
}

/**
 * Runs a command's `main`: a {@link UsageError} prints what is wrong and the usage on standard
 * error and exits 2; any other error prints its message and exits 1.
 */
export function runCommand(usage: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${usage}\n`);
      process.exitCode = USAGE_EXIT_CODE;
    } else {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  });
}
