export * from './app-error';
export * from './startup-error';
