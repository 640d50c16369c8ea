import { randomUUID } from 'node:crypto';
import { MicroBatcher, claimDeliveries, recordSentDeliveries, type ClaimRefusal, type DeliveryTarget, type SentDelivery } from '@notofine/db';
import type { EntityManager } from 'typeorm';

/** The two statements every delivery runs: its claim before the provider call, its `sent` after. */
export interface DeliveryStore {
  /** Claims a pending notification for this attempt (see `claimDeliveries`). */
  claim(notificationId: number): Promise<DeliveryTarget | ClaimRefusal>;
  /** Records what the provider accepted; whether the row changed (see `recordSentDeliveries`). */
  recordSent(delivery: SentDelivery): Promise<boolean>;
}

export interface DeliveryStoreOptions {
  readonly leaseMs: number;
  /** Claims, or records, per statement at most. */
  readonly maxBatch: number;
  /** Statements of each kind running at once at most (each holds a pool connection). */
  readonly maxInFlight: number;
}

/**
 * The delivery statements of every job in hand in this process, grouped: the claims that arrive
 * together go as one UPDATE, and so do the `sent` records, so that a worker at full speed pays one
 * round trip and one commit for many notifications instead of two for each. Alone, a job waits for
 * nothing.
 */
export function batchedDeliveryStore(manager: EntityManager, options: DeliveryStoreOptions): DeliveryStore {
  const batching = { maxBatch: options.maxBatch, maxInFlight: options.maxInFlight };
  // One lease token per statement: a notification is claimed once per statement, so (id, token) still names one attempt.
  const claims = new MicroBatcher<number, DeliveryTarget | ClaimRefusal>((ids) => claimDeliveries(manager, ids, randomUUID(), options.leaseMs), batching);
  const sent = new MicroBatcher<SentDelivery, boolean>((deliveries) => recordSentDeliveries(manager, deliveries), batching);
  return {
    claim: (notificationId) => claims.submit(notificationId),
    recordSent: (delivery) => sent.submit(delivery),
  };
}
