import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { LIMITS, sqlList } from './channel';

/**
 * What a key may do: `admin` everything (users, tickets, reminders, operations), `send` only send
 * notifications and read them.
 */
export const API_KEY_SCOPES = ['admin', 'send'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** A service API key. Only its SHA-256 is stored; the key itself is shown once, at creation. */
@Entity({ name: 'api_keys' })
@Check('CHK_api_keys_scope', `"scope" IN (${sqlList(API_KEY_SCOPES)})`)
export class ApiKey {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'varchar', length: LIMITS.apiKeyName })
  name!: string;

  @Column({ type: 'varchar', length: 16, default: 'admin' })
  scope!: ApiKeyScope;

  /** The key's first characters, to recognise it in a list without revealing it. */
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  /** Hex SHA-256 of the whole key. */
  @Index('UQ_api_keys_key_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  keyHash!: string;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lastUsedAt!: Date | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  revokedAt!: Date | null;
}
