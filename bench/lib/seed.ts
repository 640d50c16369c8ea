import { PushTokenCipher } from '@notofine/db';
import type { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { BENCH_PUSH_TOKEN_KEY, hasColumn } from './infra';

export const CHANNELS = ['email', 'sms', 'push'] as const;
export type BenchChannel = (typeof CHANNELS)[number];

/** The channel of the i-th notification or reminder: email, sms, push, email, ... */
export const channelOf = (i: number): BenchChannel => CHANNELS[i % 3]!;

/**
 * Users 1..n, each with an email address and a phone number (set-based: generate_series), no quiet
 * hours, the identity moved past them.
 */
export async function seedUsers(db: DataSource, client: Client, n: number): Promise<void> {
  const quiet = await hasColumn(db, 'users', 'quiet_hours_start');
  await client.query(
    `INSERT INTO users (id, full_name, email, phone, locale, timezone${quiet ? ', quiet_hours_start, quiet_hours_end' : ''})
     SELECT i, 'Bench User ' || i, 'bench.user' || i || '@example.com', '+336' || lpad(i::text, 8, '0'), 'fr', 'Europe/Paris'${quiet ? ', NULL, NULL' : ''}
     FROM generate_series(1, $1::bigint) AS i`,
    [n],
  );
  await client.query(`SELECT setval(pg_get_serial_sequence('users', 'id'), $1::bigint)`, [n]);
}

/** One unpaid ticket per user 1..n, ticket id = user id. */
export async function seedTickets(client: Client, n: number): Promise<void> {
  await client.query(
    `INSERT INTO tickets (id, user_id, reference, amount_cents, due_date)
     SELECT i, i, 'REF' || i, 4500 + (i % 10) * 1000, date '2027-01-15' + (i % 60)::int
     FROM generate_series(1, $1::bigint) AS i`,
    [n],
  );
  await client.query(`SELECT setval(pg_get_serial_sequence('tickets', 'id'), $1::bigint)`, [n]);
}

/**
 * One push device per user 1..n, its token sealed as the API seals it (AES-256-GCM with the
 * bench's PUSH_TOKEN_KEYS), so that the worker opens it and FCM gets a real token.
 */
export async function seedSealedDevices(client: Client, n: number): Promise<void> {
  const cipher = new PushTokenCipher([BENCH_PUSH_TOKEN_KEY]);
  for (let first = 1; first <= n; first += 10_000) {
    const ids = Array.from({ length: Math.min(10_000, n - first + 1) }, (_, i) => first + i);
    const sealed = ids.map((id) => cipher.seal(`bench-fcm-token-${id}-${'x'.repeat(120)}`));
    await client.query(
      `INSERT INTO devices (user_id, token_hash, token_ciphertext, token_key_id, token_preview, platform)
       SELECT * FROM unnest($1::bigint[], $2::char(64)[], $3::text[], $4::varchar[], $5::varchar[], $6::varchar[])`,
      [ids, sealed.map((s) => s.hash), sealed.map((s) => s.ciphertext), sealed.map((s) => s.keyId), sealed.map((s) => s.preview), ids.map(() => 'android')],
    );
  }
}
