#!/usr/bin/env bash
# Installs what building and testing recovery needs on Debian 12, only what is
# missing. Needs root (or sudo) for apt.
set -euo pipefail

packages=(
  build-essential g++ cmake pkg-config libgtest-dev
  postgresql-15 postgresql-server-dev-15 postgresql-contrib
  postgresql-15-cron postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
  pgbouncer patchelf   # patchelf: the sanitized private tree (scripts/sanitize.sh)
  prometheus-postgres-exporter   # test/tap/115_metrics.pl runs it against a test cluster
  nodejs npm
  chromium fonts-dejavu-core   # the Next.js example's browser test (playwright-core drives it; no downloaded browsers)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from outside Debian (as on our build machines): keep those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "==> installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
