import { fork } from 'node:child_process';
import { join } from 'node:path';
import { childEnv } from './infra';

/** What one provider call costs its caller in CPU, next to a bare HTTP call to the same loopback. */
export interface ProviderCallCosts {
  readonly calls: number;
  readonly concurrency: number;
  /** `node:http` request on a keep-alive agent, JSON in and out. */
  readonly bareHttpMs: number;
  /** Node's `fetch` (undici), which Vonage's SDK sends its requests with. */
  readonly bareFetchMs: number;
  /** The worker's providers, built from its configuration, through their SDKs. */
  readonly emailMs: number;
  readonly smsMs: number;
  readonly pushMs: number;
  readonly providers: { readonly email: string; readonly sms: string; readonly push: string };
}

/**
 * CPU per call of the worker's three providers (SendGrid, Vonage, FCM through their SDKs) and of
 * bare HTTP calls, measured in a child process while the loopbacks answer from this one: the part
 * of a delivery that no change to the worker can take away.
 */
export function measureProviderCalls(providerEnv: Record<string, string>, calls: number): Promise<ProviderCallCosts> {
  const child = fork(join(__dirname, 'provider-calls-child.ts'), [String(calls)], {
    env: childEnv(providerEnv),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let costs: ProviderCallCosts | undefined;
    child.once('message', (message) => {
      costs = message as ProviderCallCosts;
    });
    child.once('error', reject);
    child.once('exit', (code) => (costs ? resolve(costs) : reject(new Error(`the provider calls' process exited (${String(code)}) without its figures`))));
  });
}
