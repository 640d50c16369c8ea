import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The channels a send named that were left out when it was accepted (it goes on the first of its
 * channel and fallbacks that can take it), with why. A nullable column: no table rewrite.
 */
export class SkippedChannels1795580000000 implements MigrationInterface {
  name = 'SkippedChannels1795580000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" ADD "skipped_channels" jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "skipped_channels"`);
  }
}
