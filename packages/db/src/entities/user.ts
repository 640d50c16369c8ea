import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { LIMITS } from './channel';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'varchar', length: LIMITS.fullName })
  fullName!: string;

  @Column({ type: 'varchar', length: LIMITS.email, nullable: true })
  email!: string | null;

  /** E.164, e.g. `+33612345678`. */
  @Column({ type: 'varchar', length: LIMITS.phone, nullable: true })
  phone!: string | null;

  /** BCP 47 tag whose language has templates (`fr`, `en`, `fr-BE`, ...). */
  @Column({ type: 'varchar', length: LIMITS.locale, default: 'fr' })
  locale!: string;

  /** IANA time zone name. */
  @Column({ type: 'varchar', length: LIMITS.timezone, default: 'Europe/Paris' })
  timezone!: string;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
