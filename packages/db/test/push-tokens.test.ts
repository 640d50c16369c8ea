import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_PUSH_TOKEN_KEY, loadConfig, type PushTokenKey } from '@notofine/config';
import { TEST_DATABASE_URL } from '@test/test-environment';
import type { DataSource } from 'typeorm';
import { MIGRATIONS, PushTokenCipher, createDataSource, pushTokenHash, runMigrations, sealPushTokens } from '../src';

const key = (id: string): PushTokenKey => ({ id, key: randomBytes(32) });
const TOKEN = 'fcm:APA91bHk3xQ9zRHk3xQ9zRHk3xQ9zRHk3xQ9zRHk3xQ9zRHk3xQ9zRHk3xQ9z';

describe('PushTokenCipher', () => {
  it('opens what it sealed, and never seals the same token to the same bytes', () => {
    const cipher = new PushTokenCipher([key('k1')]);

    const first = cipher.seal(TOKEN);
    const second = cipher.seal(TOKEN);

    expect(first).toMatchObject({ hash: pushTokenHash(TOKEN), keyId: 'k1', preview: 'RHk3xQ9z'.slice(-6) });
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(Buffer.from(first.ciphertext, 'base64').toString('latin1')).not.toContain('APA91b');
    expect(cipher.open(first)).toBe(TOKEN);
    expect(cipher.open(second)).toBe(TOKEN);
  });

  it('refuses an altered ciphertext, a ciphertext moved to another token, and a key it does not hold', () => {
    const cipher = new PushTokenCipher([key('k1')]);
    const sealed = cipher.seal(TOKEN);
    const bytes = Buffer.from(sealed.ciphertext, 'base64');
    bytes[bytes.length - 1]! ^= 1;

    expect(() => cipher.open({ ...sealed, ciphertext: bytes.toString('base64') })).toThrow();
    expect(() => cipher.open({ ...sealed, hash: pushTokenHash('another token') })).toThrow();
    expect(() => new PushTokenCipher([key('k2')]).open(sealed)).toThrow('push token sealed with key "k1", which PUSH_TOKEN_KEYS does not hold');
  });

  it('seals with the first key and opens with any: keys can be rotated', () => {
    const old = key('2025');
    const current = key('2026');
    const sealedBefore = new PushTokenCipher([old]).seal(TOKEN);

    const rotated = new PushTokenCipher([current, old]);

    expect(rotated.open(sealedBefore)).toBe(TOKEN);
    expect(rotated.seal(TOKEN).keyId).toBe('2026');
  });
});

describe('sealPushTokens', () => {
  let dataSource: DataSource;
  const schema = `push_tokens_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    dataSource = createDataSource(loadConfig({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema }).database, { poolSize: 2 });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await dataSource.destroy();
  });

  it('encrypts the tokens stored in clear before the migration, then re-encrypts them under a new key', async () => {
    // The schema as it was before tokens were encrypted, with a device whose token is in clear.
    await runMigrations(dataSource);
    const sealing = MIGRATIONS.findIndex((migration) => migration.name === 'PersonalDataAtRest1795520000000');
    for (let i = MIGRATIONS.length; i > sealing; i -= 1) await dataSource.undoLastMigration({ transaction: 'none' });
    const [{ id: userId }] = await dataSource.query(`INSERT INTO users (full_name) VALUES ('Jean') RETURNING id`);
    await dataSource.query(`INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, 'android')`, [userId, TOKEN]);

    await runMigrations(dataSource);
    const legacy = await dataSource.query(`SELECT token, token_hash, token_preview FROM devices`);
    const first = await sealPushTokens(dataSource.manager, new PushTokenCipher([DEVELOPMENT_PUSH_TOKEN_KEY]), 1);
    const [sealed] = await dataSource.query(`SELECT * FROM devices`);

    expect(legacy).toEqual([{ token: TOKEN, token_hash: pushTokenHash(TOKEN), token_preview: TOKEN.slice(-6) }]);
    expect(first).toEqual({ sealed: 1, resealed: 0 });
    expect(sealed).toMatchObject({ token: null, token_key_id: 'dev', token_hash: pushTokenHash(TOKEN) });
    expect(JSON.stringify(sealed)).not.toContain(TOKEN.slice(0, 20));

    const next = key('2026');
    const rotation = await sealPushTokens(dataSource.manager, new PushTokenCipher([next, DEVELOPMENT_PUSH_TOKEN_KEY]));
    const again = await sealPushTokens(dataSource.manager, new PushTokenCipher([next, DEVELOPMENT_PUSH_TOKEN_KEY]));
    const [resealed] = await dataSource.query(`SELECT token_hash, token_ciphertext, token_key_id FROM devices`);

    expect(rotation).toEqual({ sealed: 0, resealed: 1 });
    expect(again).toEqual({ sealed: 0, resealed: 0 });
    expect(new PushTokenCipher([next]).open({ hash: resealed.token_hash, ciphertext: resealed.token_ciphertext, keyId: resealed.token_key_id })).toBe(TOKEN);
  });
});
