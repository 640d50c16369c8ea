import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { TEMPLATE_KINDS, type TemplateKind } from '@notofine/notifications';
import { ArrayMaxSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsObject, IsOptional, IsString, Matches, ValidateIf } from 'class-validator';
import { IdRules, MessageRules, OmittableNotNull, Required, SubjectRules } from '../http/decorators';

const DATE_TIME_RULE = 'must be a date-time with its offset, such as 2026-12-01T09:00:00+01:00';
const DIGEST_KEY_RULE = `must be 1 to ${LIMITS.digestKey} letters, digits, or . _ : -`;

export class SendNotificationBody {
  @Required() @IdRules() user_id!: number;
  /** The text; or `template` and `data` instead. */
  @ValidateIf((body: SendNotificationBody) => body.template === undefined || body.message !== undefined)
  @Required('is required, or a template with its data')
  @MessageRules()
  message?: string;
  /** A message kind rendered in the user's language for the channel (see packages/notifications/templates). */
  @OmittableNotNull() @IsIn(TEMPLATE_KINDS, { message: `must be one of ${TEMPLATE_KINDS.join(', ')}` }) template?: TemplateKind;
  /** The template's variables, e.g. {"reference": "ABC123", "amount_cents": 13500, "due_date": "2026-12-15"}. */
  @OmittableNotNull() @IsObject({ message: 'must be an object of the template\'s variables' }) data?: Record<string, unknown>;
  @Required() @IsIn(CHANNELS, { message: `must be one of ${CHANNELS.join(', ')}` }) channel!: Channel;
  /** Email subject, push title. */
  @IsOptional() @SubjectRules() subject?: string | null;
  @IsOptional() @IdRules() ticket_id?: number | null;
  /** Not before then; in the past or absent: now. */
  @OmittableNotNull()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: DATE_TIME_RULE })
  @Matches(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, { message: DATE_TIME_RULE })
  send_at?: string;
  /** Goes out even in the user's quiet hours. */
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) urgent?: boolean;
  /** A transactional notice: goes out even where the user unsubscribed. */
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) critical?: boolean;
  /** Channels to try next, in order, if this one ends failed. */
  @OmittableNotNull()
  @IsArray({ message: 'must be a list of channels' })
  @ArrayMaxSize(CHANNELS.length - 1, { message: `must name at most ${CHANNELS.length - 1} channels` })
  @ArrayUnique({ message: 'must not name a channel twice' })
  @IsIn(CHANNELS, { each: true, message: `must list channels among ${CHANNELS.join(', ')}` })
  fallback?: Channel[];
  /** Notifications of the user on the channel with this key, within the digest window, go out as one. */
  @OmittableNotNull() @IsString({ message: DIGEST_KEY_RULE }) @Matches(/^[\w.:-]{1,100}$/, { message: DIGEST_KEY_RULE }) digest_key?: string;
}

export class NotifyTicketBody {
  @Required() @MessageRules() message!: string;
  @IsOptional() @SubjectRules() subject?: string | null;
}
