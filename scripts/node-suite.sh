#!/usr/bin/env bash
# The node suite (scripts/test.sh runs it as "node"): the Next.js example app
# (examples/nextjs/test/*.test.ts: its modules, its route handlers, and the
# built app started with `npm start`, over HTTP and in Debian's chromium) and
# the recover-stuck-runs tool (test/cli/*.test.mjs), with node's own test
# runner, against ONE throwaway cluster. Ends with node's "# pass N" /
# "# fail N"; exits non-zero on failure. Screenshots: build/test-artifacts/nextjs/.
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

# 1. npm packages exactly as locked. --ignore-scripts (also in the app's
#    .npmrc): the only install script that matters is Prisma's, which tries to
#    download its native schema engine (unreachable offline, and not needed:
#    see examples/nextjs/scripts/prisma-offline.sh).
echo "==> npm ci (examples/nextjs)"
(cd "$APP" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund)

# 2. The Prisma client, generated offline.
echo "==> prisma generate (offline)"
(cd "$APP" && npm run -s generate)

# 3. Types: the app, the generated client and the tests must agree.
echo "==> tsc --noEmit"
(cd "$APP" && npx tsc --noEmit) || { echo "not ok - TypeScript type check failed"; status=1; }

# 4. The app, built as a user builds it: `npm run build` (the Prisma client
#    again, then next build, telemetry off). Where user namespaces allow it,
#    in a network namespace with no network at all: the proof that the build
#    downloads nothing (no fonts, no engines, no telemetry).
offline=()
if unshare -rn true 2>/dev/null; then offline=(unshare -rn); fi
echo "==> npm run build (next build${offline[*]:+, no network: ${offline[*]}})"
build_start=$(date +%s)
if (cd "$APP" && rm -rf .next && nice "${offline[@]}" npm run -s build); then
  echo "==> next build took $(( $(date +%s) - build_start )) s"
else
  echo "not ok - npm run build failed (the HTTP and browser tests will fail too)"
  status=1
fi

# 5. One cluster for every test file; each file makes its own database in it.
#    Deliberately not preloaded: apps call the SQL API without the worker.
echo "==> node --test in a throwaway cluster"
#    The app runs in New York (TZ): every instant it reads must still be right.
with_cluster \
  bash -c 'cd "$1" && TZ=America/New_York node --import tsx --test test/*.test.ts "$2"/test/cli/*.test.mjs' \
  node-suite "$APP" "$ROOT" || status=$?
exit "$status"
