import { ConfigError, loadConfig } from '../src';

describe('loadConfig', () => {
  it('runs with no variable at all, on the development defaults of the spec', () => {
    const config = loadConfig({});

    expect(config).toMatchObject({
      env: 'development',
      database: { url: 'postgres://localhost:5432/notofine', schema: 'public' },
      redis: { url: 'redis://127.0.0.1:6379', queuePrefix: 'notofine' },
      http: { port: 3000, bodyLimitBytes: 100 * 1024 },
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
          'EMAIL_PROVIDER must be one of: outbox (got "pigeon")',
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
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ALLOW_OUTBOX_IN_PRODUCTION/);
    expect(loadConfig({ NODE_ENV: 'production', ALLOW_OUTBOX_IN_PRODUCTION: 'true' }).log.format).toBe('json');
  });

  it('reads sizes, booleans and empty variables as a shell user means them', () => {
    const config = loadConfig({ HTTP_BODY_LIMIT: '1mb', PORT: '', LOG_FORMAT: 'json' });

    expect(config.http).toMatchObject({ bodyLimitBytes: 1024 * 1024, port: 3000 });
    expect(config.log.format).toBe('json');
  });
});
