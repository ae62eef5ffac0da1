// One PrismaClient per process, created on first use (Prisma 7: Rust-free
// client with the node-postgres driver adapter, no query engine binary).
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

/** DATABASE_URL when set, else libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. */
export function createPrisma(connectionString = process.env.DATABASE_URL): PrismaClient {
  const adapter = new PrismaPg(connectionString ? { connectionString } : {});
  return new PrismaClient({ adapter });
}

const globalForPrisma = globalThis as unknown as { recoveryPrisma?: PrismaClient };

/** The shared client (kept on globalThis so dev-server hot reloads reuse it). */
export function getPrisma(): PrismaClient {
  globalForPrisma.recoveryPrisma ??= createPrisma();
  return globalForPrisma.recoveryPrisma;
}

/** Closes the shared client, if one was created. */
export async function disconnectPrisma(): Promise<void> {
  const client = globalForPrisma.recoveryPrisma;
  globalForPrisma.recoveryPrisma = undefined;
  await client?.$disconnect();
}
