import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a template rendered for a notification beyond its text: the template's kind, the email's
 * own HTML body, and the channel variants its fallback channels would send. Nullable columns, no
 * table rewrite.
 */
export class RenderedTemplates1795540000000 implements MigrationInterface {
  name = 'RenderedTemplates1795540000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" ADD "template" character varying(32), ADD "html" text, ADD "variants" jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "template", DROP COLUMN "html", DROP COLUMN "variants"`);
  }
}
