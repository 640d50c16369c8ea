import type { EntityManager } from 'typeorm';
import type { PushTokenCipher } from '../push-tokens';

/**
 * Seals the push tokens still in clear (rows from before encryption) and re-seals, with the current
 * key, those sealed with another one (key rotation), `batchSize` rows per transaction, safe to run
 * from several processes at once.
 *
 * @returns how many rows were sealed and re-sealed
 */
export async function sealPushTokens(manager: EntityManager, cipher: PushTokenCipher, batchSize = 500): Promise<{ sealed: number; resealed: number }> {
  const result = { sealed: 0, resealed: 0 };
  for (;;) {
    const done = await manager.transaction(async (transaction) => {
      const rows: Array<{ id: string; token_hash: string; token: string | null; token_ciphertext: string | null; token_key_id: string | null }> = await transaction.query(
        `SELECT id, token_hash, token, token_ciphertext, token_key_id FROM devices
         WHERE token IS NOT NULL OR token_key_id IS DISTINCT FROM $1
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [cipher.currentKeyId, batchSize],
      );
      for (const row of rows) {
        const token = row.token ?? cipher.open({ hash: row.token_hash, ciphertext: row.token_ciphertext!, keyId: row.token_key_id! });
        const sealed = cipher.seal(token);
        await transaction.query(`UPDATE devices SET token = NULL, token_ciphertext = $2, token_key_id = $3 WHERE id = $1`, [row.id, sealed.ciphertext, sealed.keyId]);
        if (row.token === null) result.resealed += 1;
        else result.sealed += 1;
      }
      return rows.length < batchSize;
    });
    if (done) return result;
  }
}
