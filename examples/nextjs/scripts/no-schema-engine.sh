#!/usr/bin/env bash
# Stand-in for Prisma's native schema engine (see prisma-offline.sh). This
# example creates its tables from demo/seed-schema.sql, never with prisma
# migrate/db push, so the engine is never needed.
echo "no-schema-engine: Prisma's schema engine is not installed (offline set-up);" \
     "create the tables with demo/seed-schema.sql, or unset PRISMA_SCHEMA_ENGINE_BINARY" \
     "on a machine that can download it." >&2
exit 1
