import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The SMS replies (STOP, START) already applied, by provider message id: a replayed one changes nothing. */
export class SmsReplies1795570000000 implements MigrationInterface {
  name = 'SmsReplies1795570000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "sms_replies" (
        "provider" character varying(32) NOT NULL,
        "message_id" character varying(255) NOT NULL,
        "received_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_sms_replies" PRIMARY KEY ("provider", "message_id")
      )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "sms_replies"`);
  }
}
