import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { PushTokenKey } from '@notofine/config';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A push token as stored: never in clear. */
export interface SealedPushToken {
  /** SHA-256 of the token, hex: finds a token again (uniqueness, dead-token reports) without holding it. */
  readonly hash: string;
  /** base64 of IV, GCM tag and ciphertext. */
  readonly ciphertext: string;
  /** Which of the configured keys sealed it. */
  readonly keyId: string;
  /** The last characters, for people to tell devices apart (at most a quarter of the token). */
  readonly preview: string;
}

/** The hash under which a push token is stored and looked up. */
export function pushTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** What a device list may show of a token. */
export function pushTokenPreview(token: string): string {
  return token.slice(token.length - Math.min(6, Math.floor(token.length / 4)));
}

/**
 * Encrypts push tokens at rest with AES-256-GCM. The first configured key seals; any configured key
 * opens what it sealed, so keys can be rotated: add the new key first, re-seal (`npm run migrate`
 * does), then drop the old one. The token's hash is bound to the ciphertext (GCM's additional
 * data): a ciphertext copied onto another row does not open.
 */
export class PushTokenCipher {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keys: readonly PushTokenKey[]) {
    if (keys.length === 0) throw new Error('PushTokenCipher needs at least one key');
    for (const { id, key } of keys) {
      if (key.length !== 32) throw new Error(`push token key ${id} must be 32 bytes, not ${key.length}`);
    }
    this.keys = new Map(keys.map(({ id, key }) => [id, key]));
    this.currentKeyId = keys[0]!.id;
  }

  seal(token: string): SealedPushToken {
    const hash = pushTokenHash(token);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(hash, 'utf8'));
    const encrypted = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return { hash, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), encrypted]).toString('base64'), keyId: this.currentKeyId, preview: pushTokenPreview(token) };
  }

  /**
   * The token in clear.
   *
   * @throws when the key is not configured, or the ciphertext was altered or belongs to another hash
   */
  open(sealed: Pick<SealedPushToken, 'hash' | 'ciphertext' | 'keyId'>): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new Error(`push token sealed with key "${sealed.keyId}", which PUSH_TOKEN_KEYS does not hold`);
    const bytes = Buffer.from(sealed.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(sealed.hash, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
