import { Agent, request } from 'node:http';
import { loadConfig } from '@notofine/config';
import { createLogger } from '@notofine/logger';
import { closeProviders, createProviders } from '@notofine/providers';
import type { ProviderCallCosts } from './provider-calls';

// Run by measureProviderCalls() in a process of its own, so that its CPU is the callers' alone:
// the loopback providers answer from the bench process. Its environment is the worker's provider
// variables; the number of calls comes as the first argument.

const CONCURRENCY = 50;
const WARM_UP_CALLS = 300;

/** CPU of this process per call, in ms, over `calls` calls made CONCURRENCY at a time, after a warm-up. */
async function cpuPerCall(calls: number, call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARM_UP_CALLS; i += 1) await call(i);
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls) await call(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / calls;
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2]);
  const config = loadConfig(process.env);
  const logger = createLogger({ service: 'bench-provider-calls', level: 'error', format: 'json' });
  const providers = createProviders(config.providers, logger, 'https://api.notofine.example');
  const agent = new Agent({ keepAlive: true });
  // The bare calls go to the Vonage loopback, which answers any path. Written out on purpose (not
  // the bench's httpRequest, with its timeout): the baseline is node:http and nothing more.
  const target = new URL('/sms/json', process.env.VONAGE_BASE_URL);
  const body = JSON.stringify({ to: '33612345678', from: 'Notofine', text: 'Notofine : votre contravention REF1 est à régler.' });
  const bareHttp = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(target, { agent, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          resolve();
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const bareFetch = async () => {
    const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.json();
  };
  const email = (i: number) =>
    providers.email.send({
      notificationId: i + 1,
      to: `user${i}@example.org`,
      subject: 'Rappel de paiement',
      text: `Votre contravention REF${i} de 135,00 € est à régler avant le 15 janvier 2027.\n\n-- \nNe plus recevoir ces emails : https://api.notofine.example/unsubscribe/t${i}`,
      unsubscribeUrl: `https://api.notofine.example/unsubscribe/t${i}`,
      lang: 'fr',
    });
  const sms = (i: number) => providers.sms.send({ notificationId: i + 1, to: '+33612345678', text: `Notofine : votre contravention REF${i} est à régler.` });
  const push = (i: number) => providers.push.send({ notificationId: i + 1, tokens: [`bench-fcm-token-${i}`], title: 'Rappel de paiement', body: `Votre contravention REF${i} est à régler.` });

  // Twice each, the second round kept: the first lets every path reach its optimised code.
  let costs: ProviderCallCosts | undefined;
  for (let round = 0; round < 2; round += 1) {
    costs = {
      calls,
      concurrency: CONCURRENCY,
      bareHttpMs: await cpuPerCall(calls, bareHttp),
      bareFetchMs: await cpuPerCall(calls, bareFetch),
      emailMs: await cpuPerCall(calls, email),
      smsMs: await cpuPerCall(calls, sms),
      pushMs: await cpuPerCall(calls, push),
      providers: { email: providers.email.name, sms: providers.sms.name, push: providers.push.name },
    };
  }
  agent.destroy();
  await closeProviders(providers);
  process.send!(costs);
}

main().then(
  () => process.disconnect(),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
