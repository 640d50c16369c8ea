import { StartupError } from '@notofine/errors';
import { TEST_REDIS_URL } from '@test/test-environment';
import { connectRedis, createRedis } from '../src';

describe('connectRedis', () => {
  it('names the server it cannot reach and how to start one', async () => {
    const url = 'redis://127.0.0.1:1';
    const redis = createRedis(url, 'producer', 'test');

    const connecting = connectRedis(redis, url);

    await expect(connecting).rejects.toThrow(StartupError);
    await expect(connecting).rejects.toThrow(/^Cannot reach Redis at 127\.0\.0\.1:1 \(ECONNREFUSED\)\. Start Redis .* or set REDIS_URL/);
  });

  it('gives the producer a connection that fails at once, rather than queueing commands, while disconnected', async () => {
    const redis = createRedis(TEST_REDIS_URL, 'producer', 'test');
    await connectRedis(redis, TEST_REDIS_URL);
    redis.disconnect();

    const started = Date.now();
    await expect(redis.ping()).rejects.toThrow();

    expect(Date.now() - started).toBeLessThan(500);
  });

  it('gives workers the connection BullMQ requires for blocking commands', () => {
    const redis = createRedis(TEST_REDIS_URL, 'worker', 'test');

    expect(redis.options.maxRetriesPerRequest).toBeNull();
    redis.disconnect();
  });
});
