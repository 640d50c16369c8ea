import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { TEMPLATE_KINDS, type TemplateKind } from '@notofine/notifications';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsObject, IsOptional, IsString, Matches, ValidateBy, ValidateIf, ValidateNested } from 'class-validator';
import { IdRules, MessageRules, OmittableNotNull, Required, SubjectRules } from '../http/decorators';

/** How far ahead a send may be scheduled. */
const MAX_SCHEDULE_MS = 366 * 86_400_000;

/** A rule between a field and the rest of its send, checked with the field's own rules. */
function Holds(name: string, holds: (value: unknown, body: SendNotificationBody) => boolean, message: string | ((body: SendNotificationBody) => string)): PropertyDecorator {
  return ValidateBy(
    { name, validator: { validate: (value, args) => holds(value, args!.object as SendNotificationBody) } },
    { message: typeof message === 'string' ? message : (args) => message(args.object as SendNotificationBody) },
  );
}

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
  @OmittableNotNull()
  @IsIn(TEMPLATE_KINDS, { message: `must be one of ${TEMPLATE_KINDS.join(', ')}` })
  @Holds('templateOrMessage', (_template, body) => body.message === undefined, 'must not come with a message: send one or the other')
  template?: TemplateKind;
  /** The template's variables, e.g. {"reference": "ABC123", "amount_cents": 13500, "due_date": "2026-12-15"}. */
  @OmittableNotNull()
  @IsObject({ message: 'must be an object of the template\'s variables' })
  @Holds('dataOfTemplate', (_data, body) => body.template !== undefined, 'goes with a template: name one')
  data?: Record<string, unknown>;
  @Required() @IsIn(CHANNELS, { message: `must be one of ${CHANNELS.join(', ')}` }) channel!: Channel;
  /** Email subject, push title. */
  @IsOptional() @SubjectRules() subject?: string | null;
  @IsOptional() @IdRules() ticket_id?: number | null;
  /** Not before then; in the past or absent: now. */
  @OmittableNotNull()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: DATE_TIME_RULE })
  @Matches(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, { message: DATE_TIME_RULE })
  @Holds('withinAYear', (sendAt) => !(new Date(String(sendAt)).getTime() > Date.now() + MAX_SCHEDULE_MS), 'must be at most a year from now')
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
  @Holds('notOwnChannel', (fallback, body) => !(Array.isArray(fallback) && fallback.includes(body.channel)), (body) => `must not name the notification's own channel (${body.channel})`)
  fallback?: Channel[];
  /** Notifications of the user on the channel with this key, within the digest window, go out as one. */
  @OmittableNotNull() @IsString({ message: DIGEST_KEY_RULE }) @Matches(/^[\w.:-]{1,100}$/, { message: DIGEST_KEY_RULE }) digest_key?: string;
}

export class NotifyTicketBody {
  @Required() @MessageRules() message!: string;
  @IsOptional() @SubjectRules() subject?: string | null;
}

/** The most notifications one `POST /notifications/batch` takes. */
export const MAX_BATCH = 1000;
const BATCH_RULE = `must be a list of 1 to ${MAX_BATCH} notifications`;

export class SendBatchBody {
  /** Each as `POST /notifications/send` takes it; all are sent, or none. */
  @Required()
  @IsArray({ message: BATCH_RULE })
  @ArrayMinSize(1, { message: BATCH_RULE })
  @ArrayMaxSize(MAX_BATCH, { message: BATCH_RULE })
  @ValidateNested({ each: true })
  @Type(() => SendNotificationBody)
  notifications!: SendNotificationBody[];
}
