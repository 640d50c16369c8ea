import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@test/wait-for';
import type { TestCertificate } from './tls-certificate';

/** Debian's python3-aiosmtpd: its command, run with the system's Python that has the module. */
const AIOSMTPD = '/usr/bin/aiosmtpd';

export interface Aiosmtpd {
  readonly url: string;
  /** How many messages it received (its Debugging handler prints each one). */
  received(): number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether the server greets a client (`220 ...`). */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('220'));
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * aiosmtpd, a real SMTP server written independently of nodemailer, as a peer of the SMTP provider:
 * no authentication; with `tls` it offers STARTTLS and, as aiosmtpd does by default then, refuses
 * any mail before it; without, it offers none and answers a STARTTLS with `454 TLS not available`.
 */
export async function startAiosmtpd(options: { tls?: TestCertificate } = {}): Promise<Aiosmtpd> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'notofine-aiosmtpd-'));
  const args = ['-n', '-l', `127.0.0.1:${port}`];
  if (options.tls) {
    writeFileSync(join(dir, 'key.pem'), options.tls.key);
    writeFileSync(join(dir, 'cert.pem'), options.tls.cert);
    args.push('--tlscert', join(dir, 'cert.pem'), '--tlskey', join(dir, 'key.pem'));
  }
  const child: ChildProcess = spawn(AIOSMTPD, args, { env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited: string | null = null;
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.on('error', (error) => (exited = error.message));
  child.on('exit', (code) => (exited ??= `exited with ${code}`));
  await waitFor(`aiosmtpd on port ${port} (is python3-aiosmtpd installed?)`, async () => {
    if (exited) throw new Error(`aiosmtpd ${exited}: ${output}`);
    return greets(port);
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    received: () => output.split('---------- MESSAGE FOLLOWS ----------').length - 1,
    async close() {
      if (child.exitCode === null) {
        const exit = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exit;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
