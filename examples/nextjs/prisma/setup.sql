-- The app's database, once, as the tables' owner (no `prisma migrate` offline):
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f prisma/setup.sql
-- schema.sql is the tables of schema.prisma in SQL (the same file as the
-- repository's demo/seed-schema.sql; test/schema.test.ts checks both).
CREATE EXTENSION IF NOT EXISTS recovery;
\ir schema.sql
-- create_index: the partial index the stuck-run search uses (else each check reads the table).
SELECT recovery.watch('qualification_runs', create_index => true);
