import { readFileSync } from 'node:fs';
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
    /** While a connection is down, how often to say it still is. */
    readonly downLogIntervalMs: number;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** The worker's port for probes and metrics. */
    readonly healthPort: number;
    /** Largest accepted request body, in bytes. */
    readonly bodyLimitBytes: number;
    /** Largest accepted body of `POST /notifications/batch` (up to 1,000 notifications), in bytes. */
    readonly batchBodyLimitBytes: number;
    /** Largest accepted body of the providers' webhooks (SendGrid posts its events in batches of up to about 768 kB), in bytes. */
    readonly webhookBodyLimitBytes: number;
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
    /**
     * How long a worker's claim on a notification holds. Longer than any provider call: when a
     * worker dies mid-send, its notification goes out again this long after the claim.
     */
    readonly leaseMs: number;
    /**
     * BullMQ's job lock: a worker that stops renewing it for this long is taken for dead, and its
     * jobs are handed to another worker.
     */
    readonly lockMs: number;
  };
  /**
   * Faults to inject, for the fault-injection tests only (ignored outside NODE_ENV=test):
   * `crashAfterCommit: n` kills the API after it committed the n-th notification and before it
   * queued it.
   */
  readonly faults: { readonly crashAfterCommit: number | undefined };
  readonly sweeper: {
    /** How often one worker looks for pending notifications whose job is missing. */
    readonly intervalMs: number;
    /** How long a pending notification may go untouched before it is looked at. */
    readonly graceMs: number;
  };
  readonly reminders: {
    /** Cron pattern of the worker's reminder scheduler. */
    readonly schedule: string;
    /** Reminders claimed per transaction. */
    readonly batchSize: number;
  };
  readonly providers: ProvidersConfig;
  /**
   * Where the API is reachable from the internet (`https://notifications.example.com`): the base
   * of the webhook URLs given to providers, and of the URL Twilio signs.
   */
  readonly publicBaseUrl: string | undefined;
  /** What verifies the providers' delivery receipts; a provider without its secret has its webhook off. */
  readonly webhooks: {
    /** SendGrid Event Webhook's verification key (base64 of the ECDSA public key, as SendGrid shows it). */
    readonly sendgridPublicKey: string | undefined;
    /** Vonage's signature secret: when set, only signed delivery receipts are accepted. */
    readonly vonageSignatureSecret: string | undefined;
    /** Twilio signs status callbacks with the account's auth token. */
    readonly twilioAuthToken: string | undefined;
  };
  /** Region assumed for phone numbers written without a country code. */
  readonly defaultPhoneRegion: string;
  /** A key made sure to exist at start-up, for development and tests. */
  readonly bootstrapApiKey: string | undefined;
  /** How long `stop()` waits for in-flight work before giving up. */
  readonly shutdownTimeoutMs: number;
  /** How long an `Idempotency-Key` and its response are kept (at least a day). */
  readonly idempotencyTtlMs: number;
  /** The operators' pages (Bull Board at /admin/queues). */
  readonly admin: {
    /** How long an operator's session (kept in Redis) lasts from its login. */
    readonly sessionTtlMs: number;
    /** Bull Board shows the queues but offers no action (retry, remove, pause). */
    readonly boardReadOnly: boolean;
  };
  /** What keeps callers to their own data and their fair share. */
  readonly security: {
    /** Requests each API key may make, across every API replica (counted in Redis). */
    readonly keyRateLimit: RateLimit;
    /** Requests each user token may make (an app on a user's phone). */
    readonly userRateLimit: RateLimit;
    /** SMS a user may be sent in any 24 hours; 0 means no cap. */
    readonly smsDailyCap: number;
    /** Origins of the browser apps allowed to call the API; empty means no cross-origin calls. */
    readonly corsOrigins: readonly string[];
    /** Signs the user tokens: an HMAC secret or an asymmetric private key (PEM). */
    readonly userTokenKey: UserTokenKey | undefined;
    /** Lifetime of a user token (the most a caller may ask for). */
    readonly userTokenTtlMs: number;
    /** Keys encrypting push tokens at rest; the first seals, any of them opens. */
    readonly pushTokenKeys: readonly PushTokenKey[];
    /** Signs the unsubscribe links of emails. */
    readonly unsubscribeSecret: string;
  };
  /** How long a digest gathers notifications with the same key before it goes out as one. */
  readonly digestWindowMs: number;
  /** The quiet hours a new user gets (`HH:MM` to `HH:MM`), or null for none. */
  readonly defaultQuietHours: { readonly start: string; readonly end: string } | null;
}

/** What user tokens are signed with. */
export type UserTokenKey = { readonly kind: 'secret'; readonly secret: string } | { readonly kind: 'private-key'; readonly pem: string };

/** An AES-256 key for push tokens, named so that rows record which key sealed them. */
export interface PushTokenKey {
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

/** The unsubscribe-link secret development and tests use when none is set; never accepted in production. */
export const DEVELOPMENT_UNSUBSCRIBE_SECRET = 'notofine-development-unsubscribe-secret';

/** The push-token key development and tests use when none is set; never accepted in production. */
export const DEVELOPMENT_PUSH_TOKEN_KEY: PushTokenKey = { id: 'dev', key: Buffer.alloc(32, 'notofine-development-key') };

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const EMAIL_PROVIDERS = ['outbox', 'smtp', 'sendgrid'] as const;
export const SMS_PROVIDERS = ['outbox', 'vonage', 'twilio'] as const;
export const PUSH_PROVIDERS = ['outbox', 'fcm'] as const;
export type EmailProviderName = (typeof EMAIL_PROVIDERS)[number];
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];
export type PushProviderName = (typeof PUSH_PROVIDERS)[number];

/** At most `max` provider calls per `durationMs`, across every worker (a BullMQ limiter). */
export interface RateLimit {
  readonly max: number;
  readonly durationMs: number;
}

/** A Google service account, as in the JSON key file. */
export interface ServiceAccount {
  readonly project_id?: string;
  readonly client_email: string;
  readonly private_key: string;
  readonly [key: string]: unknown;
}

/**
 * The provider of each channel and the settings of every provider in use. A provider's section is
 * present exactly when some channel uses it (its variables are then required).
 */
export interface ProvidersConfig {
  readonly email: EmailProviderName;
  readonly sms: SmsProviderName;
  readonly push: PushProviderName;
  readonly outboxDir: string;
  /** A provider call that has not answered by then is cut off and retried. */
  readonly timeoutMs: number;
  /** Per-channel outbound limits; null means unlimited. */
  readonly rateLimits: Readonly<Record<'email' | 'sms' | 'push', RateLimit | null>>;
  /** How many times a job may be put back because its provider throttled, before it fails. */
  readonly maxThrottles: number;
  /** Sender of emails: `Notofine <no-reply@notofine.fr>`. */
  readonly emailFrom: string | undefined;
  /** Sender of SMS: a phone number in E.164 or an alphanumeric sender id. */
  readonly smsFrom: string | undefined;
  readonly smtp:
    | {
        readonly url: string;
        /** Never log in nor send in clear: STARTTLS or nothing (always TLS on an `smtps://` URL). */
        readonly requireTls: boolean;
        /** Connections kept open to the server at most. */
        readonly poolSize: number;
      }
    | undefined;
  readonly sendgrid: { readonly apiKey: string; readonly baseUrl: string } | undefined;
  readonly vonage: { readonly apiKey: string; readonly apiSecret: string; readonly baseUrl: string } | undefined;
  readonly twilio: { readonly accountSid: string; readonly authToken: string; readonly baseUrl: string } | undefined;
  readonly fcm: { readonly projectId: string; readonly credentials: ServiceAccount; readonly baseUrl: string } | undefined;
}

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

/** `100/1s`, `3000/1m`: at most 100 calls a second, 3000 a minute. */
const rateLimit = z
  .string()
  .regex(/^\d+\/\d*(ms|s|m|h)$/, 'must read <calls>/<duration>, such as 100/1s or 3000/1m')
  .transform((value): RateLimit => {
    const [, max, amount, unit] = /^(\d+)\/(\d*)(ms|s|m|h)$/.exec(value)!;
    const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
    return { max: Number(max), durationMs: Number(amount || 1) * unitMs };
  })
  .refine((limit) => limit.max > 0 && limit.durationMs > 0, 'must allow at least 1 call in a positive duration');

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
  REDIS_DOWN_LOG_INTERVAL_MS: integer(1000, 3_600_000).default(30_000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: integer(0, 65535).default(3000),
  HEALTH_PORT: integer(0, 65535).default(3001),
  HTTP_BODY_LIMIT: byteSize.default(100 * 1024),
  HTTP_BATCH_BODY_LIMIT: byteSize.default(4 * 1024 * 1024),
  HTTP_WEBHOOK_BODY_LIMIT: byteSize.default(5 * 1024 * 1024),
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  LOG_FORMAT: oneOf(['json', 'pretty']).optional(),
  // At most MAX_DELIVERY_ATTEMPTS of @notofine/queue, the attempts delivery jobs are queued with.
  DELIVERY_ATTEMPTS: integer(1, 50).default(5),
  DELIVERY_BACKOFF_MS: integer(10, 3_600_000).default(1000),
  WORKER_CONCURRENCY: integer(1, 1000).default(50),
  DELIVERY_LEASE_MS: integer(1000, 3_600_000).optional(),
  WORKER_LOCK_MS: integer(1000, 600_000).default(30_000),
  FAULT_CRASH_AFTER_COMMIT: integer(1, 1_000_000_000).optional(),
  REMINDER_SCHEDULE: z
    .string()
    .refine(isCronPattern, 'must be a cron pattern such as "0 * * * *" (hourly)')
    .default('0 * * * *'),
  REMINDER_BATCH_SIZE: integer(1, 50_000).default(1000),
  SWEEP_INTERVAL_MS: integer(100, 3_600_000).default(30_000),
  SWEEP_GRACE_MS: integer(0, 86_400_000).default(60_000),
  EMAIL_PROVIDER: oneOf(EMAIL_PROVIDERS).default('outbox'),
  SMS_PROVIDER: oneOf(SMS_PROVIDERS).default('outbox'),
  PUSH_PROVIDER: oneOf(PUSH_PROVIDERS).default('outbox'),
  OUTBOX_DIR: z.string().min(1).default('./var/outbox'),
  PROVIDER_TIMEOUT_MS: integer(100, 300_000).default(10_000),
  EMAIL_RATE_LIMIT: rateLimit.optional(),
  SMS_RATE_LIMIT: rateLimit.optional(),
  PUSH_RATE_LIMIT: rateLimit.optional(),
  MAX_THROTTLES: integer(0, 1000).default(20),
  EMAIL_FROM: z.string().min(3).optional(),
  SMS_FROM: z.string().regex(/^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$/, 'must be a phone number in E.164 or a sender id of at most 11 letters and digits').optional(),
  SMTP_URL: urlWithProtocols(['smtp:', 'smtps:']).optional(),
  SMTP_REQUIRE_TLS: boolean.optional(),
  SMTP_POOL_SIZE: integer(1, 100).default(5),
  SENDGRID_API_KEY: z.string().min(1).optional(),
  SENDGRID_BASE_URL: urlWithProtocols(['https:', 'http:']).default('https://api.sendgrid.com'),
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(1).optional(),
  VONAGE_API_KEY: z.string().min(1).optional(),
  VONAGE_API_SECRET: z.string().min(1).optional(),
  VONAGE_BASE_URL: urlWithProtocols(['https:', 'http:']).default('https://rest.nexmo.com'),
  VONAGE_SIGNATURE_SECRET: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be an account SID: AC and 32 hexadecimal digits').optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_BASE_URL: urlWithProtocols(['https:', 'http:']).default('https://api.twilio.com'),
  FCM_PROJECT_ID: z.string().regex(/^[a-z0-9-]{4,40}$/, 'must be a Firebase project id').optional(),
  FCM_CREDENTIALS: z.string().min(1).optional(),
  FCM_BASE_URL: urlWithProtocols(['https:', 'http:']).default('https://fcm.googleapis.com'),
  PUBLIC_BASE_URL: urlWithProtocols(['https:', 'http:']).optional(),
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
  ADMIN_SESSION_TTL_MS: integer(60_000, 7 * 86_400_000).default(8 * 3_600_000),
  BULL_BOARD_READ_ONLY: boolean.default(false),
  IDEMPOTENCY_TTL_MS: integer(86_400_000, 30 * 86_400_000).default(86_400_000),
  RATE_LIMIT: rateLimit.default({ max: 1000, durationMs: 1000 }),
  USER_RATE_LIMIT: rateLimit.default({ max: 120, durationMs: 60_000 }),
  SMS_DAILY_CAP: integer(0, 1_000_000).default(10),
  CORS_ORIGINS: z
    .string()
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(urlWithProtocols(['https:', 'http:']).refine((origin) => new URL(origin).origin === origin, 'must be origins such as https://app.example.com (no path, no trailing slash)')))
    .default([]),
  USER_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -base64 48)').optional(),
  USER_TOKEN_PRIVATE_KEY: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key (PKCS#8: -----BEGIN PRIVATE KEY-----)' }).optional(),
  USER_TOKEN_TTL_MS: integer(60_000, 86_400_000).default(15 * 60_000),
  PUSH_TOKEN_KEYS: z
    .string()
    .transform((value) => value.split(',').map((entry) => entry.trim()).filter(Boolean))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=$/, 'must be <key id>:<32 bytes in base64>, comma-separated (e.g. 2026a:$(openssl rand -base64 32))')
            .transform((entry): PushTokenKey => {
              const [id, key] = entry.split(':') as [string, string];
              return { id, key: Buffer.from(key, 'base64') };
            }),
        )
        .min(1),
    )
    .optional(),
  UNSUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -base64 48)').optional(),
  DIGEST_WINDOW_MS: integer(1000, 86_400_000).default(10 * 60_000),
  DEFAULT_QUIET_HOURS: z
    .string()
    .regex(/^(off|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)$/, 'must be a window such as 21:00-08:00, or off')
    .refine((value) => value === 'off' || value.slice(0, 5) !== value.slice(6, 11), 'must end at another time than it starts (21:00-08:00), or be off')
    .transform((value) => (value === 'off' ? null : { start: value.slice(0, 5), end: value.slice(6, 11) }))
    .default({ start: '21:00', end: '08:00' }),
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

  // A claim must outlive the call it covers (the provider's timeout, then a second of backstop).
  if (e.DELIVERY_LEASE_MS !== undefined && e.DELIVERY_LEASE_MS <= e.PROVIDER_TIMEOUT_MS + 1000) {
    throw new ConfigError([`DELIVERY_LEASE_MS must be more than PROVIDER_TIMEOUT_MS + 1000 (${e.PROVIDER_TIMEOUT_MS + 1000})`]);
  }
  const providers = providersConfig(e);
  const outboxInUse = [e.EMAIL_PROVIDER, e.SMS_PROVIDER, e.PUSH_PROVIDER].includes('outbox');
  if (e.NODE_ENV === 'production' && outboxInUse && !e.ALLOW_OUTBOX_IN_PRODUCTION) {
    throw new ConfigError([
      'EMAIL_PROVIDER, SMS_PROVIDER and PUSH_PROVIDER must name real providers in production: ' +
        'the outbox only writes files (set ALLOW_OUTBOX_IN_PRODUCTION=true to accept that)',
    ]);
  }

  if (e.USER_TOKEN_SECRET !== undefined && e.USER_TOKEN_PRIVATE_KEY !== undefined) {
    throw new ConfigError(['USER_TOKEN_SECRET and USER_TOKEN_PRIVATE_KEY are exclusive: set one']);
  }
  if (e.NODE_ENV === 'production' && e.PUSH_TOKEN_KEYS === undefined) {
    throw new ConfigError(['PUSH_TOKEN_KEYS is required in production: push tokens are encrypted at rest (e.g. PUSH_TOKEN_KEYS=k1:$(openssl rand -base64 32))']);
  }
  if (e.NODE_ENV === 'production' && e.UNSUBSCRIBE_SECRET === undefined) {
    throw new ConfigError(['UNSUBSCRIBE_SECRET is required in production: it signs the unsubscribe link of every email']);
  }
  const pushTokenKeys = e.PUSH_TOKEN_KEYS ?? [DEVELOPMENT_PUSH_TOKEN_KEY];
  if (new Set(pushTokenKeys.map((key) => key.id)).size !== pushTokenKeys.length) {
    throw new ConfigError(['PUSH_TOKEN_KEYS names a key id twice']);
  }

  return {
    env: e.NODE_ENV,
    database: { url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA, poolSize: e.DATABASE_POOL_SIZE },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX, downLogIntervalMs: e.REDIS_DOWN_LOG_INTERVAL_MS },
    http: {
      host: e.HOST,
      port: e.PORT,
      healthPort: e.HEALTH_PORT,
      bodyLimitBytes: e.HTTP_BODY_LIMIT,
      batchBodyLimitBytes: e.HTTP_BATCH_BODY_LIMIT,
      webhookBodyLimitBytes: e.HTTP_WEBHOOK_BODY_LIMIT,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (e.NODE_ENV === 'production' ? 'json' : 'pretty') },
    delivery: {
      attempts: e.DELIVERY_ATTEMPTS,
      backoffMs: e.DELIVERY_BACKOFF_MS,
      concurrency: e.WORKER_CONCURRENCY,
      leaseMs: e.DELIVERY_LEASE_MS ?? e.PROVIDER_TIMEOUT_MS + 30_000,
      lockMs: e.WORKER_LOCK_MS,
    },
    faults: { crashAfterCommit: e.NODE_ENV === 'test' ? e.FAULT_CRASH_AFTER_COMMIT : undefined },
    reminders: { schedule: e.REMINDER_SCHEDULE, batchSize: e.REMINDER_BATCH_SIZE },
    sweeper: { intervalMs: e.SWEEP_INTERVAL_MS, graceMs: e.SWEEP_GRACE_MS },
    providers,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    webhooks: {
      sendgridPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY,
      vonageSignatureSecret: e.VONAGE_SIGNATURE_SECRET,
      twilioAuthToken: e.TWILIO_AUTH_TOKEN,
    },
    defaultPhoneRegion: e.DEFAULT_PHONE_REGION,
    bootstrapApiKey: e.BOOTSTRAP_API_KEY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    idempotencyTtlMs: e.IDEMPOTENCY_TTL_MS,
    admin: { sessionTtlMs: e.ADMIN_SESSION_TTL_MS, boardReadOnly: e.BULL_BOARD_READ_ONLY },
    security: {
      keyRateLimit: e.RATE_LIMIT,
      userRateLimit: e.USER_RATE_LIMIT,
      smsDailyCap: e.SMS_DAILY_CAP,
      corsOrigins: e.CORS_ORIGINS,
      userTokenKey:
        e.USER_TOKEN_SECRET !== undefined
          ? { kind: 'secret', secret: e.USER_TOKEN_SECRET }
          : e.USER_TOKEN_PRIVATE_KEY !== undefined
            ? { kind: 'private-key', pem: e.USER_TOKEN_PRIVATE_KEY.replace(/\\n/g, '\n') }
            : undefined,
      userTokenTtlMs: e.USER_TOKEN_TTL_MS,
      pushTokenKeys,
      unsubscribeSecret: e.UNSUBSCRIBE_SECRET ?? DEVELOPMENT_UNSUBSCRIBE_SECRET,
    },
    digestWindowMs: e.DIGEST_WINDOW_MS,
    defaultQuietHours: e.DEFAULT_QUIET_HOURS,
  };
}

function isSecretName(name: string): boolean {
  return /KEY|SECRET|TOKEN|PASSWORD|CREDENTIALS|_URL$/.test(name);
}

type Environment = z.infer<typeof schema>;

/** The settings of the providers in use, each variable they need required (and named when missing). */
function providersConfig(e: Environment): ProvidersConfig {
  const missing: string[] = [];
  const need = <T>(name: keyof Environment, value: T | undefined, because: string): T => {
    if (value === undefined) missing.push(`${name} is required when ${because}`);
    return value as T;
  };
  const email = `EMAIL_PROVIDER=${e.EMAIL_PROVIDER}`;
  const sms = `SMS_PROVIDER=${e.SMS_PROVIDER}`;

  const config: ProvidersConfig = {
    email: e.EMAIL_PROVIDER,
    sms: e.SMS_PROVIDER,
    push: e.PUSH_PROVIDER,
    outboxDir: e.OUTBOX_DIR,
    timeoutMs: e.PROVIDER_TIMEOUT_MS,
    rateLimits: { email: e.EMAIL_RATE_LIMIT ?? null, sms: e.SMS_RATE_LIMIT ?? null, push: e.PUSH_RATE_LIMIT ?? null },
    maxThrottles: e.MAX_THROTTLES,
    emailFrom: e.EMAIL_PROVIDER === 'outbox' ? e.EMAIL_FROM : need('EMAIL_FROM', e.EMAIL_FROM, email),
    smsFrom: e.SMS_PROVIDER === 'outbox' ? e.SMS_FROM : need('SMS_FROM', e.SMS_FROM, sms),
    smtp:
      e.EMAIL_PROVIDER === 'smtp'
        ? {
            url: need('SMTP_URL', e.SMTP_URL, email),
            // Credentials and personal data never cross a network in clear in production, unless told so.
            requireTls: e.SMTP_REQUIRE_TLS ?? e.NODE_ENV === 'production',
            poolSize: e.SMTP_POOL_SIZE,
          }
        : undefined,
    sendgrid: e.EMAIL_PROVIDER === 'sendgrid' ? { apiKey: need('SENDGRID_API_KEY', e.SENDGRID_API_KEY, email), baseUrl: e.SENDGRID_BASE_URL } : undefined,
    vonage:
      e.SMS_PROVIDER === 'vonage'
        ? {
            apiKey: need('VONAGE_API_KEY', e.VONAGE_API_KEY, sms),
            apiSecret: need('VONAGE_API_SECRET', e.VONAGE_API_SECRET, sms),
            baseUrl: e.VONAGE_BASE_URL,
          }
        : undefined,
    twilio:
      e.SMS_PROVIDER === 'twilio'
        ? {
            accountSid: need('TWILIO_ACCOUNT_SID', e.TWILIO_ACCOUNT_SID, sms),
            authToken: need('TWILIO_AUTH_TOKEN', e.TWILIO_AUTH_TOKEN, sms),
            baseUrl: e.TWILIO_BASE_URL,
          }
        : undefined,
    fcm:
      e.PUSH_PROVIDER === 'fcm'
        ? {
            projectId: need('FCM_PROJECT_ID', e.FCM_PROJECT_ID, 'PUSH_PROVIDER=fcm'),
            credentials:
              e.FCM_CREDENTIALS === undefined
                ? need<ServiceAccount>('FCM_CREDENTIALS', undefined, 'PUSH_PROVIDER=fcm')
                : readServiceAccount(e.FCM_CREDENTIALS, missing),
            baseUrl: e.FCM_BASE_URL,
          }
        : undefined,
  };
  if (missing.length > 0) throw new ConfigError(missing);
  return config;
}

/** FCM_CREDENTIALS holds a service account's JSON key, or the path of its file. */
function readServiceAccount(value: string, problems: string[]): ServiceAccount {
  let text = value;
  if (!value.trimStart().startsWith('{')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (error) {
      problems.push(`FCM_CREDENTIALS must be a service account's JSON key or the path of its file (cannot read ${value}: ${(error as Error).message})`);
      return { client_email: '', private_key: '' };
    }
  }
  try {
    const parsed = JSON.parse(text) as Partial<ServiceAccount>;
    if (typeof parsed.client_email === 'string' && typeof parsed.private_key === 'string') return parsed as ServiceAccount;
  } catch {
    // reported below
  }
  problems.push('FCM_CREDENTIALS must be a service account JSON key with client_email and private_key');
  return { client_email: '', private_key: '' };
}
