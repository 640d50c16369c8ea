import { StartupError } from '@notofine/errors';
import { TEST_DATABASE_URL } from '@test/test-environment';
import { connectDatabase } from '../src';

describe('connectDatabase', () => {
  it('names the server it cannot reach and how to start one', async () => {
    const connecting = connectDatabase({ url: 'postgres://127.0.0.1:1/notofine', schema: 'public', poolSize: 1 });

    await expect(connecting).rejects.toThrow(StartupError);
    await expect(connecting).rejects.toThrow(/^Cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)\. Start PostgreSQL .* or set DATABASE_URL/);
  });

  it('says which database is missing and how to create it', async () => {
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = '/notofine_does_not_exist';

    await expect(connectDatabase({ url: url.toString(), schema: 'public', poolSize: 1 })).rejects.toThrow(
      /Database "notofine_does_not_exist" does not exist on PostgreSQL at .*npm run migrate/,
    );
  });
});
