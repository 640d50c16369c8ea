import { ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { start, type WorkerService, type WorkerServiceOptions } from '../src/worker-service';

export interface WorkerHarness {
  readonly env: TestEnvironment;
  readonly worker: WorkerService;
  /** The providers the worker sends through: scripted, recording every call. */
  readonly providers: ScriptedProviders;
  stop(): Promise<void>;
}

/**
 * The worker in-process, on the test file's own schema and queue prefix, sending through scripted
 * providers. The reminder scheduler is off unless asked for.
 */
export async function startWorker(
  options: { env?: Record<string, string>; scheduleReminders?: boolean; providers?: WorkerServiceOptions['providers'] } = {},
): Promise<WorkerHarness> {
  const env = await createTestEnvironment(options.env);
  const providers = new ScriptedProviders();
  const worker = await start({
    config: env.config,
    logger: env.logger,
    providers: options.providers ?? providers,
    scheduleReminders: options.scheduleReminders ?? false,
  });
  return {
    env,
    worker,
    providers,
    async stop() {
      await worker.stop();
      await env.cleanup();
    },
  };
}
