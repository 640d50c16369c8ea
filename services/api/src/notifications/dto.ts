import { CHANNELS, type Channel } from '@notofine/db';
import { IsIn, IsOptional } from 'class-validator';
import { IdRules, MessageRules, Required, SubjectRules } from '../http/decorators';

export class SendNotificationBody {
  @Required() @IdRules() user_id!: number;
  @Required() @MessageRules() message!: string;
  @Required() @IsIn(CHANNELS, { message: `must be one of ${CHANNELS.join(', ')}` }) channel!: Channel;
  /** Email subject, push title. */
  @IsOptional() @SubjectRules() subject?: string | null;
  @IsOptional() @IdRules() ticket_id?: number | null;
}

export class NotifyTicketBody {
  @Required() @MessageRules() message!: string;
  @IsOptional() @SubjectRules() subject?: string | null;
}
