import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

/**
 * The service's whole configuration, read once from the environment at start-up.
 * Code asks this object, never `process.env`.
 */
export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly database: {
    /** `postgres://user:pass@host:port/db` */
    readonly url: string;
    /** Schema holding the tables (tests give each file its own). */
    readonly schema: string;
    readonly poolSize: number;
  };
  readonly redis: {
    readonly url: string;
    /** BullMQ key prefix: every queue of one deployment shares it. */
    readonly queuePrefix: string;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** Largest accepted request body, in bytes. */
    readonly bodyLimitBytes: number;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly format: 'json' | 'pretty';
  };
  readonly delivery: {
    /** Provider calls per notification before it is marked failed. */
    readonly attempts: number;
    /** First retry delay; later ones double, with jitter. */
    readonly backoffMs: number;
    /** Jobs each worker process runs at once, per channel queue. */
    readonly concurrency: number;
  };
  readonly reminders: {
    /** Cron pattern of the worker's reminder scheduler. */
    readonly schedule: string;
    /** Reminders claimed per transaction. */
    readonly batchSize: number;
  };
  readonly providers: {
    readonly email: EmailProviderName;
    readonly sms: SmsProviderName;
    readonly push: PushProviderName;
    readonly outboxDir: string;
  };
  /** Region assumed for phone numbers written without a country code. */
  readonly defaultPhoneRegion: string;
  /** A key made sure to exist at start-up, for development and tests. */
  readonly bootstrapApiKey: string | undefined;
  /** How long `stop()` waits for in-flight work before giving up. */
  readonly shutdownTimeoutMs: number;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const EMAIL_PROVIDERS = ['outbox'] as const;
export const SMS_PROVIDERS = ['outbox'] as const;
export const PUSH_PROVIDERS = ['outbox'] as const;
export type EmailProviderName = (typeof EMAIL_PROVIDERS)[number];
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];
export type PushProviderName = (typeof PUSH_PROVIDERS)[number];

/** Thrown when the environment holds a missing or malformed value; the message names each one. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const urlWithProtocols = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `must be one of: ${values.join(', ')}` });

const byteSize = z
  .string()
  .regex(/^\d+(b|kb|mb)?$/i, 'must be a size such as 100kb or 1mb')
  .transform((v) => {
    const match = /^(\d+)(b|kb|mb)?$/i.exec(v)!;
    const unit = (match[2] ?? 'b').toLowerCase();
    return Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  });

const schema = z.object({
  NODE_ENV: oneOf(['development', 'test', 'production']).default('development'),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']).default('postgres://localhost:5432/notofine'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('public'),
  DATABASE_POOL_SIZE: integer(1, 200).default(10),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, - or _')
    .default('notofine'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: integer(0, 65535).default(3000),
  HTTP_BODY_LIMIT: byteSize.default(100 * 1024),
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  LOG_FORMAT: oneOf(['json', 'pretty']).optional(),
  DELIVERY_ATTEMPTS: integer(1, 50).default(5),
  DELIVERY_BACKOFF_MS: integer(10, 3_600_000).default(1000),
  WORKER_CONCURRENCY: integer(1, 1000).default(50),
  REMINDER_SCHEDULE: z
    .string()
    .refine(isCronPattern, 'must be a cron pattern such as "0 * * * *" (hourly)')
    .default('0 * * * *'),
  REMINDER_BATCH_SIZE: integer(1, 50_000).default(1000),
  EMAIL_PROVIDER: oneOf(EMAIL_PROVIDERS).default('outbox'),
  SMS_PROVIDER: oneOf(SMS_PROVIDERS).default('outbox'),
  PUSH_PROVIDER: oneOf(PUSH_PROVIDERS).default('outbox'),
  OUTBOX_DIR: z.string().min(1).default('./var/outbox'),
  ALLOW_OUTBOX_IN_PRODUCTION: boolean.default(false),
  DEFAULT_PHONE_REGION: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be a two-letter country code such as FR')
    .default('FR'),
  BOOTSTRAP_API_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{24,128}$/, 'must be 24 to 128 letters, digits, - or _')
    .optional(),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(20_000),
});

function isCronPattern(value: string): boolean {
  try {
    CronExpressionParser.parse(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and validates the configuration.
 *
 * @param env - the environment to read, `process.env` by default
 * @throws {@link ConfigError} naming every missing or malformed variable
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const given = env[name];
        const shown = given === undefined || isSecretName(name) ? '' : ` (got "${given}")`;
        return `${name} ${issue.message}${shown}`;
      }),
    );
  }
  const e = parsed.data;

  const outboxInUse = [e.EMAIL_PROVIDER, e.SMS_PROVIDER, e.PUSH_PROVIDER].includes('outbox');
  if (e.NODE_ENV === 'production' && outboxInUse && !e.ALLOW_OUTBOX_IN_PRODUCTION) {
    throw new ConfigError([
      'EMAIL_PROVIDER, SMS_PROVIDER and PUSH_PROVIDER must name real providers in production: ' +
        'the outbox only writes files (set ALLOW_OUTBOX_IN_PRODUCTION=true to accept that)',
    ]);
  }

  return {
    env: e.NODE_ENV,
    database: { url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA, poolSize: e.DATABASE_POOL_SIZE },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX },
    http: { host: e.HOST, port: e.PORT, bodyLimitBytes: e.HTTP_BODY_LIMIT },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (e.NODE_ENV === 'production' ? 'json' : 'pretty') },
    delivery: { attempts: e.DELIVERY_ATTEMPTS, backoffMs: e.DELIVERY_BACKOFF_MS, concurrency: e.WORKER_CONCURRENCY },
    reminders: { schedule: e.REMINDER_SCHEDULE, batchSize: e.REMINDER_BATCH_SIZE },
    providers: { email: e.EMAIL_PROVIDER, sms: e.SMS_PROVIDER, push: e.PUSH_PROVIDER, outboxDir: e.OUTBOX_DIR },
    defaultPhoneRegion: e.DEFAULT_PHONE_REGION,
    bootstrapApiKey: e.BOOTSTRAP_API_KEY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}

function isSecretName(name: string): boolean {
  return /KEY|SECRET|TOKEN|PASSWORD|CREDENTIALS|_URL$/.test(name);
}
