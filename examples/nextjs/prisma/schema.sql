-- The seed app's schema, as Prisma creates it: enum statuses, quoted
-- camelCase columns, timestamp(3) without time zone (UTC), cuid text ids.
CREATE TYPE "RunStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');

CREATE TABLE "Company" (
    id     text PRIMARY KEY,
    name   text NOT NULL,
    domain text NOT NULL
);

CREATE TABLE "ICP" (
    id          text PRIMARY KEY,
    title       text NOT NULL,
    "companyId" text NOT NULL REFERENCES "Company"(id)
);

CREATE TABLE qualification_runs (
    id               text PRIMARY KEY,
    "icpId"          text NOT NULL REFERENCES "ICP"(id),
    status           "RunStatus" NOT NULL DEFAULT 'PENDING',
    "totalProspects" integer NOT NULL DEFAULT 0,
    completed        integer NOT NULL DEFAULT 0,
    "createdAt"      timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"      timestamp(3),
    "completedAt"    timestamp(3)
);

CREATE TABLE prospects (
    id      text PRIMARY KEY,
    "runId" text NOT NULL REFERENCES qualification_runs(id),
    domain  text NOT NULL,
    score   integer
);
