export * from './run-service';
export { probe } from './probe';
