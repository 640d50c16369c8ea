import { ConfigError, loadConfig } from '../src';

const PUSH_KEY = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
/** What production requires besides providers. */
const PRODUCTION = { NODE_ENV: 'production', PUSH_TOKEN_KEYS: PUSH_KEY, UNSUBSCRIBE_SECRET: 'u'.repeat(32) } as const;

describe('loadConfig', () => {
  it('runs with no variable at all, on the development defaults of the spec', () => {
    const config = loadConfig({});

    expect(config).toMatchObject({
      env: 'development',
      database: { url: 'postgres://localhost:5432/notofine', schema: 'public' },
      redis: { url: 'redis://127.0.0.1:6379', queuePrefix: 'notofine' },
      http: { port: 3000, bodyLimitBytes: 100 * 1024, batchBodyLimitBytes: 4 * 1024 * 1024, webhookBodyLimitBytes: 5 * 1024 * 1024 },
      log: { level: 'info', format: 'pretty' },
      delivery: { attempts: 5 },
      reminders: { schedule: '0 * * * *' },
      providers: { email: 'outbox', sms: 'outbox', push: 'outbox', outboxDir: './var/outbox' },
    });
  });

  it('names every malformed variable and what it must be, in one error', () => {
    const load = () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://db/x', DELIVERY_ATTEMPTS: '0', REMINDER_SCHEDULE: 'every hour', EMAIL_PROVIDER: 'pigeon' });

    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (error) {
      const { problems } = error as ConfigError;
      expect(problems).toHaveLength(5);
      expect(problems).toEqual(
        expect.arrayContaining([
          'PORT must be a whole number between 0 and 65535 (got "eighty")',
          'DATABASE_URL must be a URL starting with postgres:// or postgresql://',
          'DELIVERY_ATTEMPTS must be at least 1 (got "0")',
          expect.stringMatching(/^REMINDER_SCHEDULE must be a cron pattern/),
          'EMAIL_PROVIDER must be one of: outbox, smtp, sendgrid (got "pigeon")',
        ]),
      );
    }
  });

  it('never echoes a secret or a URL that may hold a password', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://user:hunter2@redis', BOOTSTRAP_API_KEY: 'short' })).toThrow(
      expect.objectContaining({ message: expect.not.stringMatching(/hunter2|short/) }),
    );
  });

  it('refuses the outbox in production unless told to accept it', () => {
    expect(() => loadConfig({ ...PRODUCTION })).toThrow(/ALLOW_OUTBOX_IN_PRODUCTION/);
    expect(loadConfig({ ...PRODUCTION, ALLOW_OUTBOX_IN_PRODUCTION: 'true' }).log.format).toBe('json');
    expect(() => loadConfig({ ...PRODUCTION, UNSUBSCRIBE_SECRET: undefined, ALLOW_OUTBOX_IN_PRODUCTION: 'true' })).toThrow(/UNSUBSCRIBE_SECRET is required in production/);
  });

  it('requires a push token key in production, and reads keys with their ids, the first sealing', () => {
    expect(() => loadConfig({ ...PRODUCTION, PUSH_TOKEN_KEYS: undefined, ALLOW_OUTBOX_IN_PRODUCTION: 'true' })).toThrow(/PUSH_TOKEN_KEYS is required in production/);
    const second = `old:${Buffer.alloc(32, 2).toString('base64')}`;

    const keys = loadConfig({ PUSH_TOKEN_KEYS: `${PUSH_KEY}, ${second}` }).security.pushTokenKeys;

    expect(keys.map((key) => [key.id, key.key.length])).toEqual([['k1', 32], ['old', 32]]);
    expect(loadConfig({}).security.pushTokenKeys.map((key) => key.id)).toEqual(['dev']);
    expect(() => loadConfig({ PUSH_TOKEN_KEYS: 'k1:c2hvcnQ=' })).toThrow(/PUSH_TOKEN_KEYS.*must be <key id>:<32 bytes in base64>/s);
    expect(() => loadConfig({ PUSH_TOKEN_KEYS: `${PUSH_KEY},${PUSH_KEY}` })).toThrow(/names a key id twice/);
  });

  it('reads the default quiet hours and the digest window, and refuses a window of no length', () => {
    expect(loadConfig({})).toMatchObject({ defaultQuietHours: { start: '21:00', end: '08:00' }, digestWindowMs: 600_000 });
    expect(loadConfig({ DEFAULT_QUIET_HOURS: '22:30-07:00', DIGEST_WINDOW_MS: '5000' })).toMatchObject({ defaultQuietHours: { start: '22:30', end: '07:00' }, digestWindowMs: 5000 });
    expect(loadConfig({ DEFAULT_QUIET_HOURS: 'off' }).defaultQuietHours).toBeNull();
    expect(() => loadConfig({ DEFAULT_QUIET_HOURS: '22:00-22:00' })).toThrow(/DEFAULT_QUIET_HOURS must end at another time than it starts/);
    expect(() => loadConfig({ DEFAULT_QUIET_HOURS: '9pm-8am' })).toThrow(/DEFAULT_QUIET_HOURS must be a window such as 21:00-08:00, or off/);
  });

  it('reads the abuse limits, CORS origins and the user token key', () => {
    const defaults = loadConfig({}).security;
    const set = loadConfig({
      RATE_LIMIT: '50/1s',
      USER_RATE_LIMIT: '10/1m',
      SMS_DAILY_CAP: '0',
      CORS_ORIGINS: 'https://app.notofine.fr, https://admin.notofine.fr',
      USER_TOKEN_SECRET: 'x'.repeat(32),
    }).security;

    expect(defaults).toMatchObject({ keyRateLimit: { max: 1000, durationMs: 1000 }, userRateLimit: { max: 120, durationMs: 60_000 }, smsDailyCap: 10, corsOrigins: [], userTokenKey: undefined });
    expect(set).toMatchObject({
      keyRateLimit: { max: 50, durationMs: 1000 },
      userRateLimit: { max: 10, durationMs: 60_000 },
      smsDailyCap: 0,
      corsOrigins: ['https://app.notofine.fr', 'https://admin.notofine.fr'],
      userTokenKey: { kind: 'secret', secret: 'x'.repeat(32) },
    });
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.notofine.fr/path' })).toThrow(/CORS_ORIGINS.*must be origins/s);
    expect(() => loadConfig({ USER_TOKEN_SECRET: 'short' })).toThrow(/USER_TOKEN_SECRET must be at least 32 characters/);
    expect(() => loadConfig({ USER_TOKEN_SECRET: 'x'.repeat(32), USER_TOKEN_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----' })).toThrow(/exclusive/);
    // Idempotency keys are kept at least a day, as clients retry for that long.
    expect(loadConfig({}).idempotencyTtlMs).toBe(86_400_000);
    expect(() => loadConfig({ IDEMPOTENCY_TTL_MS: String(86_400_000 - 1) })).toThrow(/IDEMPOTENCY_TTL_MS must be at least 86400000/);
  });

  it('reads sizes, booleans and empty variables as a shell user means them', () => {
    const config = loadConfig({ HTTP_BODY_LIMIT: '1mb', PORT: '', LOG_FORMAT: 'json' });

    expect(config.http).toMatchObject({ bodyLimitBytes: 1024 * 1024, port: 3000 });
    expect(config.log.format).toBe('json');
  });

  it('requires the settings of each provider in use, and names the variable and why', () => {
    expect(() => loadConfig({ EMAIL_PROVIDER: 'smtp', SMS_PROVIDER: 'twilio', PUSH_PROVIDER: 'fcm' })).toThrow(
      expect.objectContaining({
        problems: [
          'EMAIL_FROM is required when EMAIL_PROVIDER=smtp',
          'SMS_FROM is required when SMS_PROVIDER=twilio',
          'SMTP_URL is required when EMAIL_PROVIDER=smtp',
          'TWILIO_ACCOUNT_SID is required when SMS_PROVIDER=twilio',
          'TWILIO_AUTH_TOKEN is required when SMS_PROVIDER=twilio',
          'FCM_PROJECT_ID is required when PUSH_PROVIDER=fcm',
          'FCM_CREDENTIALS is required when PUSH_PROVIDER=fcm',
        ],
      }),
    );
  });

  it('reads a provider’s settings, a service account given inline, and per-channel rate limits', () => {
    const serviceAccount = { project_id: 'notofine-test', client_email: 'fcm@notofine-test.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\n' };
    const config = loadConfig({
      EMAIL_PROVIDER: 'sendgrid',
      SENDGRID_API_KEY: 'SG.key',
      EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
      PUSH_PROVIDER: 'fcm',
      FCM_PROJECT_ID: 'notofine-test',
      FCM_CREDENTIALS: JSON.stringify(serviceAccount),
      SMS_RATE_LIMIT: '30/1s',
      EMAIL_RATE_LIMIT: '3000/m',
      PUBLIC_BASE_URL: 'https://notifications.notofine.fr/',
    });

    expect(config.providers).toMatchObject({
      email: 'sendgrid',
      sendgrid: { apiKey: 'SG.key', baseUrl: 'https://api.sendgrid.com' },
      emailFrom: 'Notofine <no-reply@notofine.fr>',
      fcm: { projectId: 'notofine-test', credentials: serviceAccount, baseUrl: 'https://fcm.googleapis.com' },
      rateLimits: { sms: { max: 30, durationMs: 1000 }, email: { max: 3000, durationMs: 60_000 }, push: null },
    });
    expect(config.publicBaseUrl).toBe('https://notifications.notofine.fr');
  });

  it('requires TLS of the SMTP relay in production unless told otherwise, and sizes its pool', () => {
    const smtp = { EMAIL_PROVIDER: 'smtp', SMTP_URL: 'smtp://notofine:secret@relay.example.com:587', EMAIL_FROM: 'Notofine <no-reply@notofine.fr>' };
    const production = { ...PRODUCTION, ...smtp, SMS_PROVIDER: 'outbox', PUSH_PROVIDER: 'outbox', ALLOW_OUTBOX_IN_PRODUCTION: 'true' };

    expect(loadConfig(smtp).providers.smtp).toEqual({ url: smtp.SMTP_URL, requireTls: false, poolSize: 5 });
    expect(loadConfig(production).providers.smtp).toMatchObject({ requireTls: true, poolSize: 5 });
    expect(loadConfig({ ...production, SMTP_REQUIRE_TLS: 'false', SMTP_POOL_SIZE: '2' }).providers.smtp).toMatchObject({ requireTls: false, poolSize: 2 });
    expect(loadConfig({ ...smtp, SMTP_REQUIRE_TLS: 'true' }).providers.smtp).toMatchObject({ requireTls: true });
    expect(() => loadConfig({ ...smtp, SMTP_POOL_SIZE: '0' })).toThrow(/SMTP_POOL_SIZE must be at least 1/);
  });

  it('refuses unreadable credentials and malformed limits without showing the secret', () => {
    expect(() => loadConfig({ PUSH_PROVIDER: 'fcm', FCM_PROJECT_ID: 'notofine-test', FCM_CREDENTIALS: '{"private_key": "secret-value"}', SMS_RATE_LIMIT: 'fast' })).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/SMS_RATE_LIMIT must read <calls>\/<duration>[\s\S]*/),
      }),
    );
    expect(() => loadConfig({ PUSH_PROVIDER: 'fcm', FCM_PROJECT_ID: 'notofine-test', FCM_CREDENTIALS: '{"private_key": "secret-value"}' })).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('FCM_CREDENTIALS must be a service account JSON key with client_email and private_key'),
      }),
    );
    expect(() => loadConfig({ PUSH_PROVIDER: 'fcm', FCM_PROJECT_ID: 'notofine-test', FCM_CREDENTIALS: '{"private_key": "secret-value"}' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('secret-value') }),
    );
    expect(() => loadConfig({ PUSH_PROVIDER: 'fcm', FCM_PROJECT_ID: 'notofine-test', FCM_CREDENTIALS: '/nonexistent/key.json' })).toThrow(/cannot read \/nonexistent\/key\.json/);
  });
});
