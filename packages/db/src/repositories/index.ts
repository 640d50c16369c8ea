export * from './notifications';
export * from './recipients';
export * from './reminders';
export * from './deliveries';
export * from './delivery-receipts';
export * from './idempotency';
export * from './devices';
export * from './opt-outs';
