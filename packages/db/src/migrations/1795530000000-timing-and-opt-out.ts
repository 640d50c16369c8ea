import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What decides when and whether a notification goes out: a user's quiet hours and opt-outs; a
 * notification's planned time, urgency, criticality, fallback chain and digest key, and its
 * final `cancelled` state; a reminder's ticket and end. New columns are nullable or have a
 * constant default (no table rewrite); the status check is swapped without a long lock.
 */
export class TimingAndOptOut1795530000000 implements MigrationInterface {
  name = 'TimingAndOptOut1795530000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "users" ADD "quiet_hours_start" character varying(5) DEFAULT '21:00', ADD "quiet_hours_end" character varying(5) DEFAULT '08:00',
         ADD "quiet_hours_email" boolean NOT NULL DEFAULT false, ADD "email_opted_out_at" TIMESTAMP(3) WITH TIME ZONE, ADD "sms_opted_out_at" TIMESTAMP(3) WITH TIME ZONE`,
    );
    // Users already there get the default quiet hours; new ones get what the API gives them.
    await queryRunner.query(`ALTER TABLE "users" ALTER "quiet_hours_start" DROP DEFAULT, ALTER "quiet_hours_end" DROP DEFAULT`);
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD "scheduled_at" TIMESTAMP(3) WITH TIME ZONE, ADD "urgent" boolean NOT NULL DEFAULT false,
         ADD "critical" boolean NOT NULL DEFAULT false, ADD "fallback_channels" character varying(16) array, ADD "fallback_from_id" bigint, ADD "fallback_to_id" bigint,
         ADD "digest_key" character varying(100)`,
    );
    await queryRunner.query(`ALTER TABLE "notifications" DROP CONSTRAINT "CHK_notifications_status"`);
    await queryRunner.query(`ALTER TABLE "notifications" ADD CONSTRAINT "CHK_notifications_status" CHECK ("status" IN ('pending', 'sent', 'failed', 'cancelled')) NOT VALID`);
    await queryRunner.query(`ALTER TABLE "notifications" VALIDATE CONSTRAINT "CHK_notifications_status"`);
    await queryRunner.query(`CREATE INDEX "IDX_notifications_fallback_from_id" ON "notifications" ("fallback_from_id") WHERE "fallback_from_id" IS NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX "IDX_notifications_digest" ON "notifications" ("user_id", "channel", "digest_key") WHERE "digest_key" IS NOT NULL AND "status" = 'pending'`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "FK_notifications_fallback_from_id" FOREIGN KEY ("fallback_from_id") REFERENCES "notifications"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(`ALTER TABLE "reminders" ADD "ticket_id" bigint, ADD "end_at" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`CREATE INDEX "IDX_reminders_ticket_id" ON "reminders" ("ticket_id") WHERE "ticket_id" IS NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "reminders" ADD CONSTRAINT "FK_reminders_ticket_id" FOREIGN KEY ("ticket_id") REFERENCES "tickets"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "reminders" DROP CONSTRAINT "FK_reminders_ticket_id"`);
    await queryRunner.query(`DROP INDEX "IDX_reminders_ticket_id"`);
    await queryRunner.query(`ALTER TABLE "reminders" DROP COLUMN "ticket_id", DROP COLUMN "end_at"`);
    await queryRunner.query(`ALTER TABLE "notifications" DROP CONSTRAINT "FK_notifications_fallback_from_id"`);
    await queryRunner.query(`DROP INDEX "IDX_notifications_digest"`);
    await queryRunner.query(`DROP INDEX "IDX_notifications_fallback_from_id"`);
    await queryRunner.query(`UPDATE "notifications" SET "status" = 'failed' WHERE "status" = 'cancelled'`);
    await queryRunner.query(`ALTER TABLE "notifications" DROP CONSTRAINT "CHK_notifications_status"`);
    await queryRunner.query(`ALTER TABLE "notifications" ADD CONSTRAINT "CHK_notifications_status" CHECK ("status" IN ('pending', 'sent', 'failed'))`);
    await queryRunner.query(
      `ALTER TABLE "notifications" DROP COLUMN "scheduled_at", DROP COLUMN "urgent", DROP COLUMN "critical", DROP COLUMN "fallback_channels", DROP COLUMN "fallback_from_id", DROP COLUMN "fallback_to_id", DROP COLUMN "digest_key"`,
    );
    await queryRunner.query(
      `ALTER TABLE "users" DROP COLUMN "quiet_hours_start", DROP COLUMN "quiet_hours_end", DROP COLUMN "quiet_hours_email", DROP COLUMN "email_opted_out_at", DROP COLUMN "sms_opted_out_at"`,
    );
  }
}
