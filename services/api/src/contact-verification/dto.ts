import { CONTACTS, type Contact } from '@notofine/db';
import { IsIn, IsString, Matches } from 'class-validator';
import { Required, Rules } from '../http/decorators';

const CONTACT_RULE = `must be ${CONTACTS.join(' or ')}`;
const Contact = () => Rules(Required(`is required: ${CONTACTS.join(' or ')}`), IsIn(CONTACTS, { message: CONTACT_RULE }));

/** Asks for a code: to the email or phone waiting to be proven, or to the current one not proven yet. */
export class RequestCodeBody {
  @Contact() contact!: Contact;
}

const CODE_RULE = 'must be the six digits of the code received, such as 042917';

/** Gives back the code received. */
export class ConfirmCodeBody {
  @Contact() contact!: Contact;
  @Required() @IsString({ message: CODE_RULE }) @Matches(/^\d{6}$/, { message: CODE_RULE }) code!: string;
}
