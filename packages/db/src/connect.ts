import type { Config } from '@notofine/config';
import { StartupError } from '@notofine/errors';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, withDefaultUser, type DataSourceOptions } from './data-source';

/**
 * Creates and initializes the data source, turning "cannot connect" into a {@link StartupError}
 * that names the server and says how to start it.
 */
export async function connectDatabase(database: Config['database'], options: DataSourceOptions = {}): Promise<DataSource> {
  const dataSource = createDataSource(database, options);
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new StartupError(describeDatabaseError(error, database.url), { cause: error });
  }
  return dataSource;
}

/** Refuses to run against a schema that lacks a migration this code needs. */
export async function assertSchemaUpToDate(dataSource: DataSource): Promise<void> {
  if (await dataSource.showMigrations()) {
    throw new StartupError('The database schema is not up to date: run `npm run migrate` (or the migrations job) first.');
  }
}

/** Creates the configured database when it does not exist yet: a convenience for development. */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = new URL(withDefaultUser(url));
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(target);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return true;
  } catch (error) {
    throw new StartupError(describeDatabaseError(error, url), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One line an operator can act on, for an error met while connecting to PostgreSQL. */
export function describeDatabaseError(error: unknown, url: string): string {
  const { hostname, port, pathname, username } = new URL(withDefaultUser(url));
  const where = `PostgreSQL at ${hostname}:${port || 5432}`;
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return (
        `Cannot reach ${where} (${code}). Start PostgreSQL (e.g. \`pg_ctlcluster 15 main start\` or ` +
        '`docker compose up -d postgres`) or set DATABASE_URL to a running server.'
      );
    case '3D000':
      return (
        `Database "${decodeURIComponent(pathname.slice(1))}" does not exist on ${where}. ` +
        'Run `npm run migrate`, which creates it outside production, or create it with `createdb`.'
      );
    case '28P01':
    case '28000':
      return `${where} refused user "${decodeURIComponent(username)}": ${message}. Check the credentials in DATABASE_URL.`;
    default:
      if (/timeout/i.test(message)) {
        return `Cannot reach ${where}: connection timed out. Check that it runs and that DATABASE_URL is right.`;
      }
      return `Cannot use ${where}: ${message}`;
  }
}

/**
 * Whether an error means "PostgreSQL is not there right now" (refused or lost connection, server
 * shutting down or starting, too many connections) rather than a fault of the query.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.code ?? (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  const message = error instanceof Error ? error.message : '';
  return (
    (typeof code === 'string' && (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300'].includes(code) || code.startsWith('08'))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|the database system is (starting up|shutting down)/i.test(message)
  );
}
