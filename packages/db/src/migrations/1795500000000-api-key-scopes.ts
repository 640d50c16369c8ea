import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API key scopes; the keys created before were all-powerful and stay so (`admin`). */
export class ApiKeyScopes1795500000000 implements MigrationInterface {
  name = 'ApiKeyScopes1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "scope" character varying(16) NOT NULL DEFAULT 'admin'`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "CHK_api_keys_scope" CHECK ("scope" IN ('admin', 'send'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "CHK_api_keys_scope"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "scope"`);
  }
}
