#!/usr/bin/env bash
# The node suite (scripts/test.sh runs it as "node"): the Prisma example app
# (examples/nextjs/test/*.test.ts) and the recover-stuck-runs tool
# (test/cli/*.test.mjs), with node's own test runner, against ONE throwaway
# cluster. Ends with node's "# pass N" / "# fail N"; exits non-zero on failure.
# Needs the extension installed (scripts/test.sh builds and installs it first).
#   bash scripts/node-suite.sh
source "$(dirname "$0")/lib.sh"
APP="$ROOT/examples/nextjs"
status=0

# Prisma 7 needs node 20.19 or newer (Debian 12's own nodejs is 18).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "not ok - node $(node --version) is too old: the Prisma 7 example needs node >= 20.19" >&2
  exit 1
fi

# 1. npm packages exactly as locked. --ignore-scripts: the only install scripts
#    are Prisma's, which try to download its native schema engine (unreachable
#    offline, and not needed: see examples/nextjs/scripts/prisma-offline.sh).
echo "==> npm ci (examples/nextjs)"
(cd "$APP" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund)

# 2. The Prisma client, generated offline.
echo "==> prisma generate (offline)"
(cd "$APP" && npm run -s generate)

# 3. Types: the app, the generated client and the tests must agree.
echo "==> tsc --noEmit"
(cd "$APP" && npx tsc --noEmit) || { echo "not ok - TypeScript type check failed"; status=1; }

# 4. One cluster for every test file; each file makes its own database in it.
#    Deliberately not preloaded: apps call the SQL API without the worker.
port=$(free_port)
echo "==> node --test in a throwaway cluster on port $port"
pg_virtualenv -t -c "-p $port" \
  bash -c 'cd "$1" && node --import tsx --test test/*.test.ts "$2"/test/cli/*.test.mjs' \
  node-suite "$APP" "$ROOT" || status=$?
exit "$status"
