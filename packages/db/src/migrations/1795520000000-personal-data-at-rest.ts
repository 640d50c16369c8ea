import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Personal data at rest. Kept idempotent responses (which may hold a user's address) belong to that
 * user and go with them when they are erased. Push tokens are encrypted: each device keeps the token's SHA-256 (unique, for lookups), its
 * AES-256-GCM ciphertext with the id of the key, and a short preview. The clear `token` column
 * stays only for rows written before: `npm run migrate` seals them right after this migration
 * (it needs the key, which a migration does not have) and empties it.
 */
export class PersonalDataAtRest1795520000000 implements MigrationInterface {
  name = 'PersonalDataAtRest1795520000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "idempotency_keys" ADD "user_id" bigint`);
    await queryRunner.query(`CREATE INDEX "IDX_idempotency_keys_user_id" ON "idempotency_keys" ("user_id") WHERE "user_id" IS NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "FK_idempotency_keys_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );

    await queryRunner.query(
      `ALTER TABLE "devices" ADD "token_hash" character(64), ADD "token_ciphertext" text, ADD "token_key_id" character varying(32), ADD "token_preview" character varying(8)`,
    );
    await queryRunner.query(
      `UPDATE "devices" SET "token_hash" = encode(sha256(convert_to("token", 'UTF8')), 'hex'), "token_preview" = right("token", least(6, length("token") / 4))`,
    );
    await queryRunner.query(`ALTER TABLE "devices" ALTER "token_hash" SET NOT NULL, ALTER "token_preview" SET NOT NULL, ALTER "token" DROP NOT NULL`);
    await queryRunner.query(`DROP INDEX "UQ_devices_token"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_devices_token_hash" ON "devices" ("token_hash")`);
    await queryRunner.query(`CREATE INDEX "IDX_devices_unsealed" ON "devices" ("id") WHERE "token" IS NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "devices" ADD CONSTRAINT "CHK_devices_token_stored" CHECK ("token" IS NOT NULL OR ("token_ciphertext" IS NOT NULL AND "token_key_id" IS NOT NULL))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The clear tokens cannot be recovered without the key: a device left without one is dropped
    // (its app registers again).
    await queryRunner.query(`DELETE FROM "devices" WHERE "token" IS NULL`);
    await queryRunner.query(`ALTER TABLE "devices" DROP CONSTRAINT "CHK_devices_token_stored"`);
    await queryRunner.query(`DROP INDEX "IDX_devices_unsealed"`);
    await queryRunner.query(`DROP INDEX "UQ_devices_token_hash"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_devices_token" ON "devices" ("token")`);
    await queryRunner.query(`ALTER TABLE "devices" ALTER "token" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "devices" DROP COLUMN "token_hash", DROP COLUMN "token_ciphertext", DROP COLUMN "token_key_id", DROP COLUMN "token_preview"`);
    await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP COLUMN "user_id"`);
  }
}
