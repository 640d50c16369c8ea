export * from './provider';
export { OutboxEmailProvider, OutboxPushProvider, OutboxSmsProvider } from './outbox';
export { createProviders, closeProviders } from './create-providers';
