import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Delivery leases: a worker claims a notification before calling its provider. Nullable columns: no rewrite. */
export class DeliveryLeases1795490000000 implements MigrationInterface {
  name = 'DeliveryLeases1795490000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" ADD "lease_token" uuid`);
    await queryRunner.query(`ALTER TABLE "notifications" ADD "lease_until" TIMESTAMP(3) WITH TIME ZONE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "lease_until"`);
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "lease_token"`);
  }
}
