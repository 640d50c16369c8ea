import { LIMITS, TICKET_STATUSES, type TicketStatus } from '@notofine/db';
import { IsDefined, IsIn, IsInt, IsString, Matches, Max, Min, Validate, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { MaxCharacters, OmittableNotNull } from '../http/decorators';

@ValidatorConstraint({ name: 'isCalendarDate' })
class IsCalendarDate implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    // PostgreSQL has no year 0 (1 BC comes before AD 1), which JavaScript dates accept.
    if (typeof value !== 'string' || !/^(?!0000)\d{4}-\d{2}-\d{2}$/.test(value)) return false;
    const date = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
  }

  defaultMessage(): string {
    return 'must be a date written YYYY-MM-DD, such as 2026-12-31';
  }
}

const REFERENCE_MESSAGE = `must be 1 to ${LIMITS.ticketReference} characters with no leading or trailing space`;
const AMOUNT_MESSAGE = `must be a whole number of cents between 0 and ${LIMITS.amountCents}`;

export class CreateTicketBody {
  @IsDefined({ message: 'is required' })
  @IsString({ message: 'must be a string' })
  @Matches(/^\S(.*\S)?$/, { message: REFERENCE_MESSAGE })
  @MaxCharacters(LIMITS.ticketReference, { message: REFERENCE_MESSAGE })
  reference!: string;

  @IsDefined({ message: 'is required' })
  @IsInt({ message: AMOUNT_MESSAGE })
  @Min(0, { message: AMOUNT_MESSAGE })
  @Max(LIMITS.amountCents, { message: AMOUNT_MESSAGE })
  amount_cents!: number;

  @IsDefined({ message: 'is required' })
  @Validate(IsCalendarDate)
  due_date!: string;

  @OmittableNotNull()
  @IsIn(TICKET_STATUSES, { message: `must be one of ${TICKET_STATUSES.join(', ')}` })
  status?: TicketStatus;
}

export class UpdateTicketBody {
  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  @Matches(/^\S(.*\S)?$/, { message: REFERENCE_MESSAGE })
  @MaxCharacters(LIMITS.ticketReference, { message: REFERENCE_MESSAGE })
  reference?: string;

  @OmittableNotNull()
  @IsInt({ message: AMOUNT_MESSAGE })
  @Min(0, { message: AMOUNT_MESSAGE })
  @Max(LIMITS.amountCents, { message: AMOUNT_MESSAGE })
  amount_cents?: number;

  @OmittableNotNull()
  @Validate(IsCalendarDate)
  due_date?: string;

  @OmittableNotNull()
  @IsIn(TICKET_STATUSES, { message: `must be one of ${TICKET_STATUSES.join(', ')}` })
  status?: TicketStatus;
}
