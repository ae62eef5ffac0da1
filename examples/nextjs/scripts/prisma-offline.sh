#!/usr/bin/env bash
# Runs the Prisma CLI with no network access: `bash scripts/prisma-offline.sh generate`.
#
# Prisma 7 has no query engine binary any more (the client's query compiler is
# WebAssembly shipped inside the npm packages), and `prisma generate` uses the
# WebAssembly schema parser, so generating needs nothing from outside npm. The
# CLI still makes sure the native *schema engine* (used only by migrate, db
# push/pull, studio) is on disk before any command, and downloads it from
# Prisma's binary host when it is not. Pointing PRISMA_SCHEMA_ENGINE_BINARY at
# any existing file skips that download; we point it at a stub that explains
# itself if a schema-engine command is ever run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$here/no-schema-engine.sh}"
export CHECKPOINT_DISABLE=1              # no version/telemetry check-in
export PRISMA_HIDE_UPDATE_MESSAGE=1
exec "$here/../node_modules/.bin/prisma" "$@"
