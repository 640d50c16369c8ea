import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { LineBuffer, createLogger, maskEmail, maskPhone, redactText, withLogContext } from '../src';

function jsonLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', format: 'json', stream }), lines };
}

describe('redaction', () => {
  it('masks emails and E.164 phone numbers, keeping enough to tell them apart', () => {
    expect(maskEmail('jean.dupont@example.com')).toBe('j***@example.com');
    expect(maskPhone('+33612345678')).toBe('+33******78');
    expect(redactText('to jean@example.com and +447700900123, Bearer abc.def')).toBe('to j***@example.com and +44******23, Bearer [redacted]');
    expect(redactText('postgres://app:s3cret@db:5432/notofine')).toBe('postgres://app:***@db:5432/notofine');
    expect(redactText('key nfk_AbC123dEf456gHi789 and token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl')).toBe('key nfk_[redacted] and token [redacted token]');
  });
});

describe('redaction of the usual encodings', () => {
  it.each([
    ['an address quoted in a URL', 'GET /lookup?to=jean.dupont%40example.com', 'GET /lookup?to=j***@example.com'],
    ['an international number with spaces', 'refused +33 6 12 34 56 78 today', 'refused +33******78 today'],
    ['one with dots or dashes', '+33.6.12.34.56.78 and +1-201-555-0123', '+33******78 and +12******23'],
    ['one quoted in a URL', 'To=%2B33612345678&Body=x', 'To=+33******78&Body=x'],
  ])('masks %s', (_case, text, masked) => {
    expect(redactText(text)).toBe(masked);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with the service, the level and the message', () => {
    const { logger, lines } = jsonLogger();

    logger.info('notification sent', { notification_id: 12 });

    expect(lines).toEqual([expect.objectContaining({ service: 'test', level: 'info', message: 'notification sent', notification_id: 12 })]);
    expect(lines[0]?.timestamp).toEqual(expect.any(String));
  });

  it('adds the request or job id of the current context to every entry, across awaits', async () => {
    const { logger, lines } = jsonLogger();

    await withLogContext({ request_id: 'req-1' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      logger.info('inside');
    });
    logger.info('outside');

    expect(lines.map((line) => line.request_id)).toEqual(['req-1', undefined]);
  });

  it('never writes personal data or secrets: emails, phones, tokens, keys are masked or dropped', () => {
    const { logger, lines } = jsonLogger();

    logger.info('sending to jean@example.com', {
      to: '+33612345678',
      token: 'fcm-registration-token',
      headers: { authorization: 'Bearer nfk_secret' },
      error: new Error('rejected jean@example.com'),
    });

    const written = JSON.stringify(lines);
    for (const secret of ['jean@example.com', '+33612345678', 'fcm-registration-token', 'nfk_secret']) {
      expect(written).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ message: 'sending to j***@example.com', to: '+33******78', token: '[redacted]', headers: { authorization: '[redacted]' } });
    expect(lines[0]?.error).toMatchObject({ message: 'rejected j***@example.com' });
  });

  it('masks inside nested fields and lists, and drops secrets at any depth', () => {
    const { logger, lines } = jsonLogger();

    logger.info('batch', { recipients: [{ user: { email: 'jean@example.com', phone: '+33612345678' } }], provider: { auth: { api_key: 'SG.secret', password: 'hunter2' } }, msisdn: '33612345678' });

    const written = JSON.stringify(lines);
    for (const secret of ['jean@example.com', '+33612345678', '33612345678', 'SG.secret', 'hunter2']) expect(written).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      recipients: [{ user: { email: 'j***@example.com', phone: '+33******78' } }],
      provider: { auth: { api_key: '[redacted]', password: '[redacted]' } },
      msisdn: '33******78',
    });
  });

  it('masks errors whole: message, stack, own fields, their cause and the errors of an AggregateError', () => {
    const { logger, lines } = jsonLogger();
    const cause = Object.assign(new Error('SMTP 550 <jean@example.com> rejected'), { code: 'EENVELOPE', recipient: '+33612345678' });
    const error = new Error('could not send to +33612345678', { cause });
    const aggregate = new AggregateError([new Error('push to token for marie@example.com refused')], 'all failed for marie@example.com');

    logger.error('send failed', { error, aggregate });

    const written = JSON.stringify(lines);
    for (const secret of ['jean@example.com', '+33612345678', 'marie@example.com']) expect(written).not.toContain(secret);
    expect(lines[0]?.error).toMatchObject({
      message: 'could not send to +33******78',
      stack: expect.stringContaining('could not send to +33******78'),
      cause: { message: 'SMTP 550 <j***@example.com> rejected', code: 'EENVELOPE', recipient: '+33******78' },
    });
    expect(lines[0]?.aggregate).toMatchObject({ message: 'all failed for m***@example.com', errors: [{ message: 'push to token for m***@example.com refused' }] });
  });
});

describe('standard output', () => {
  it('gets the lines logged in one turn of the event loop in one write, in order, and each later turn in its own', async () => {
    const writes: string[] = [];
    const buffer = new LineBuffer({ write: (text: string) => writes.push(text) });

    buffer.write('one\n');
    buffer.write('two\n');
    buffer.write('three\n');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    buffer.write('four\n');
    await new Promise((resolve) => setImmediate(resolve));

    expect(writes).toEqual(['one\ntwo\nthree\n', 'four\n']);
    buffer.end();
  });

  // A process logs, then dies before its next turn: the lines still reach standard output.
  it.each([
    ['exits at once', "process.exit(3)"],
    ['throws', "throw new Error('boom')"],
  ])('keeps the last lines of a process that %s', (_case, ending) => {
    const script = `
      const { createLogger } = require('@notofine/logger');
      const logger = createLogger({ service: 'test', level: 'info', format: 'json' });
      for (let i = 1; i <= 3; i += 1) logger.info('line ' + i);
      ${ending};`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });

    const messages = child.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { message: string }).message);
    expect(messages).toEqual(['line 1', 'line 2', 'line 3']);
    expect(child.status).not.toBe(0);
  });
});
