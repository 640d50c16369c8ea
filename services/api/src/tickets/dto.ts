import { LIMITS, TICKET_STATUSES, type TicketStatus } from '@notofine/db';
import { IsIn, IsString, Matches, Validate, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { IntegerBetween, MaxCharacters, OmittableNotNull, Required, Rules } from '../http/decorators';

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

const Reference = () =>
  Rules(
    IsString({ message: 'must be a string' }),
    Matches(/^\S(.*\S)?$/, { message: REFERENCE_MESSAGE }),
    MaxCharacters(LIMITS.ticketReference, { message: REFERENCE_MESSAGE }),
  );
const AmountCents = () => IntegerBetween(0, LIMITS.amountCents, `must be a whole number of cents between 0 and ${LIMITS.amountCents}`);
const DueDate = () => Validate(IsCalendarDate);
const Status = () => IsIn(TICKET_STATUSES, { message: `must be one of ${TICKET_STATUSES.join(', ')}` });

export class CreateTicketBody {
  @Required() @Reference() reference!: string;
  @Required() @AmountCents() amount_cents!: number;
  @Required() @DueDate() due_date!: string;
  @OmittableNotNull() @Status() status?: TicketStatus;
}

/** Every field optional. */
export class UpdateTicketBody {
  @OmittableNotNull() @Reference() reference?: string;
  @OmittableNotNull() @AmountCents() amount_cents?: number;
  @OmittableNotNull() @DueDate() due_date?: string;
  @OmittableNotNull() @Status() status?: TicketStatus;
}
