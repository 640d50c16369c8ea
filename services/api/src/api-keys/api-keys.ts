import { createHash, randomBytes } from 'node:crypto';
import { ApiKey, type ApiKeyScope } from '@notofine/db';
import { NotFoundError } from '@notofine/errors';
import { IsNull, type EntityManager } from 'typeorm';

/** Every key starts so, which makes a leaked one easy to recognise (and to scan for). */
export const KEY_PREFIX = 'nfk_';
/** How much of a key is kept in clear, to tell keys apart in a list. */
const SHOWN_LENGTH = KEY_PREFIX.length + 8;

/** Keys are long random strings, so a fast hash is enough: there is nothing to brute-force. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random key: 192 bits of entropy. */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/**
 * Creates an API key.
 *
 * @returns the stored key (hash only) and the key itself, which is shown once and never again
 */
export async function createApiKey(
  manager: EntityManager,
  name: string,
  scope: ApiKeyScope = 'admin',
  key = generateApiKey(),
): Promise<{ apiKey: ApiKey; key: string }> {
  const apiKey = await manager.save(manager.create(ApiKey, { name, scope, prefix: key.slice(0, SHOWN_LENGTH), keyHash: hashApiKey(key) }));
  return { apiKey, key };
}

/**
 * Makes sure a configured key exists (`BOOTSTRAP_API_KEY`). A key that was revoked stays revoked.
 *
 * @returns whether it was created now
 */
export async function ensureApiKey(manager: EntityManager, name: string, key: string): Promise<boolean> {
  const inserted: unknown[] = await manager.query(
    `INSERT INTO api_keys (name, prefix, key_hash) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING RETURNING id`,
    [name, key.slice(0, SHOWN_LENGTH), hashApiKey(key)],
  );
  return inserted.length > 0;
}

/** The active key with this secret, or null. */
export async function findActiveApiKey(manager: EntityManager, key: string): Promise<ApiKey | null> {
  return manager.findOneBy(ApiKey, { keyHash: hashApiKey(key), revokedAt: IsNull() });
}

/** The active key of this id, or null. */
export async function findActiveApiKeyById(manager: EntityManager, id: number): Promise<ApiKey | null> {
  return manager.findOneBy(ApiKey, { id, revokedAt: IsNull() });
}

export async function listApiKeys(manager: EntityManager): Promise<ApiKey[]> {
  return manager.find(ApiKey, { order: { id: 'ASC' } });
}

export async function revokeApiKey(manager: EntityManager, id: number): Promise<void> {
  const { affected } = await manager.update(ApiKey, { id, revokedAt: IsNull() }, { revokedAt: new Date() });
  if (!affected) throw new NotFoundError('Active API key', id);
}

/** Records that a key was used, at most once a minute per key so that reads stay reads. */
export async function touchApiKey(manager: EntityManager, id: number): Promise<void> {
  await manager.query(
    `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}
