import { apiClient, type ApiClient } from '@test/api-client';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { start, type ApiService } from '../src/api-service';

export interface ApiHarness {
  readonly env: TestEnvironment;
  readonly api: ApiService;
  /** Requests with the test API key. */
  readonly client: ApiClient;
  stop(): Promise<void>;
}

/** The API in-process (no port), on the test file's own schema and queue prefix. */
export async function startApi(env: Record<string, string> = {}): Promise<ApiHarness> {
  const testEnv = await createTestEnvironment(env);
  const api = await start({ config: testEnv.config, logger: testEnv.logger, listen: false });
  return {
    env: testEnv,
    api,
    client: apiClient(api.app),
    async stop() {
      await api.stop();
      await testEnv.cleanup();
    },
  };
}
