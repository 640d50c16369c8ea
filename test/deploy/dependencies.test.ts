import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as twilio from 'twilio';
import * as twilioWebhooks from 'twilio/lib/webhooks/webhooks';

// What the services load and install, beyond the code: entry points into large SDKs, install-time
// scripts, the images' production installs, and the dependency tree's duplicates.

const root = join(__dirname, '..', '..');
const run = promisify(execFile);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier imported by the sources under `dir`. */
const specifiersIn = (dir: string): string[] =>
  sources(join(root, dir)).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s+'([^']+)'/g)].map((match) => match[1]!));

describe('the API', () => {
  it("checks Twilio's signatures with the SDK's webhooks module alone, not the whole SDK", async () => {
    const twilioImports = specifiersIn('services/api/src').filter((specifier) => specifier === 'twilio' || specifier.startsWith('twilio/'));
    expect(new Set(twilioImports)).toEqual(new Set(['twilio/lib/webhooks/webhooks']));
    // The very function the SDK's main entry point exports.
    expect(twilioWebhooks.validateRequest).toBe(twilio.validateRequest);

    // Loading the API's check loads one file of the SDK (its main entry point: its REST client,
    // axios, some 235 modules).
    const script = `require('./services/api/src/webhooks/twilio.ts');
      console.log(JSON.stringify(Object.keys(require.cache).filter((file) => file.includes('/node_modules/twilio/')).map((file) => file.slice(file.indexOf('twilio/')))));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual(['twilio/lib/webhooks/webhooks.js']);
  });
});
