import { InitialSchema1795470000000 } from './1795470000000-initial-schema';
import { DeliveryReceipts1795480000000 } from './1795480000000-delivery-receipts';
import { DeliveryLeases1795490000000 } from './1795490000000-delivery-leases';
import { ApiKeyScopes1795500000000 } from './1795500000000-api-key-scopes';
import { IdempotencyKeys1795510000000 } from './1795510000000-idempotency-keys';
import { PersonalDataAtRest1795520000000 } from './1795520000000-personal-data-at-rest';
import { TimingAndOptOut1795530000000 } from './1795530000000-timing-and-opt-out';
import { RenderedTemplates1795540000000 } from './1795540000000-rendered-templates';
import { ContactVerification1795550000000 } from './1795550000000-contact-verification';
import { PendingPushDevices1795560000000 } from './1795560000000-pending-push-devices';
import { SmsReplies1795570000000 } from './1795570000000-sms-replies';
import { SkippedChannels1795580000000 } from './1795580000000-skipped-channels';

/** Every migration, oldest first. A new migration is added here as well as in its own file. */
export const MIGRATIONS = [InitialSchema1795470000000, DeliveryReceipts1795480000000, DeliveryLeases1795490000000, ApiKeyScopes1795500000000, IdempotencyKeys1795510000000, PersonalDataAtRest1795520000000, TimingAndOptOut1795530000000, RenderedTemplates1795540000000, ContactVerification1795550000000, PendingPushDevices1795560000000, SmsReplies1795570000000, SkippedChannels1795580000000];
