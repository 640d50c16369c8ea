import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The devices a push notification is still to reach once another device of its user took it. A
 * new, empty table: its foreign keys lock `notifications` and `devices` only for a moment (there is
 * nothing of its own to check).
 */
export class PendingPushDevices1795560000000 implements MigrationInterface {
  name = 'PendingPushDevices1795560000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "pending_push_devices" ("notification_id" bigint NOT NULL, "device_id" bigint NOT NULL, "error_message" text NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_pending_push_devices" PRIMARY KEY ("notification_id", "device_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_pending_push_devices_device_id" ON "pending_push_devices" ("device_id")`);
    await queryRunner.query(
      `ALTER TABLE "pending_push_devices" ADD CONSTRAINT "FK_pending_push_devices_notification_id" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "pending_push_devices" ADD CONSTRAINT "FK_pending_push_devices_device_id" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "pending_push_devices"`);
  }
}
