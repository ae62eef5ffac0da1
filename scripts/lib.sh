# Shared helpers for the scripts (sourced).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The PostgreSQL major the scripts build and test against: PG_MAJOR, 15 by
# default. TESTED_MAJORS are those `make test` covers (README, Install).
TESTED_MAJORS=(15 18)
PG_MAJOR=${PG_MAJOR:-15}
[[ $PG_MAJOR =~ ^[1-9][0-9]$ ]] || { echo "PG_MAJOR must be a major version such as 15 or 18, not '$PG_MAJOR'" >&2; exit 2; }

# A major's bin directory: Debian's package (/usr/lib/postgresql/N, as for 15),
# or for 18, unless Debian's package is installed, the tree scripts/pg18.sh
# builds from Debian's source package.
pg_bindir() {
  if [ "$1" = 18 ] && [ ! -x /usr/lib/postgresql/18/bin/postgres ]; then
    echo "${RECOVERY_PG18_PREFIX:-/opt/recovery/postgresql/18}/bin"
  else
    echo "/usr/lib/postgresql/$1/bin"
  fi
}

# Points the scripts at major $1: PG_MAJOR, PG_BINDIR, PG_CONFIG (exported,
# so PGXS's make uses it), PATH, and BUILD_DIR, where PGXS builds the
# extension for it. PGXS puts objects next to the sources, so one tree holds
# one build: 15 builds in the work tree itself (as a plain `make` does), any
# other major in a copy of the sources under build/pgN, so the two never mix
# objects. pg_regress writes its results (regression.diffs) there too.
# RECOVERY_PG_BINDIR and RECOVERY_BUILD_DIR override both: another
# installation of that major, e.g. a private tree (scripts/private-tree.sh)
# whose recovery is built in its own copy of the sources.
PATH_WITHOUT_PG=$PATH
use_major() {
  PG_MAJOR=$1
  PG_BINDIR=${RECOVERY_PG_BINDIR:-$(pg_bindir "$PG_MAJOR")}
  PG_CONFIG="$PG_BINDIR/pg_config"
  export PG_MAJOR PG_CONFIG PATH="$PG_BINDIR:$PATH_WITHOUT_PG"
  if [ -n "${RECOVERY_BUILD_DIR:-}" ]; then BUILD_DIR=$RECOVERY_BUILD_DIR
  elif [ "$PG_MAJOR" = 15 ]; then BUILD_DIR="$ROOT"
  else BUILD_DIR="$ROOT/build/pg$PG_MAJOR"; fi
}
use_major "$PG_MAJOR"

# A TCP port nobody listens on, so runs (demo, tests) can overlap.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# The source files of the work tree, relative to it: git's (tracked and
# untracked, ignored ones left out), or, outside git (a dist zip), every file
# but build outputs.
source_files() {
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -co --exclude-standard | while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done
  else
    (cd "$ROOT" && find . -path ./build -prune -o -path ./.git -prune -o -name node_modules -prune \
      -o -path ./results -prune -o -type f ! -name '*.o' ! -name '*.so' ! -name '*.d' ! -name '*.bc' -print |
      sed 's|^\./||')
  fi
}

# Refreshes BUILD_DIR's copy of the sources (for a major other than 15):
# files are replaced with their mtimes, so make rebuilds only what changed;
# objects of deleted sources are not linked (the Makefile globs the sources).
sync_build_dir() {
  [ "$BUILD_DIR" != "$ROOT" ] || return 0
  mkdir -p "$BUILD_DIR"
  find "$BUILD_DIR" -type f ! -name '*.o' ! -name '*.d' ! -name '*.so' ! -name .built-for-postgresql -delete
  source_files | tar -C "$ROOT" -cf - -T - | tar -C "$BUILD_DIR" -xf -
}

# Builds the extension for PG_MAJOR (in BUILD_DIR) and installs it into that
# major's installation, with its own pg_config.
build_and_install() {
  sync_build_dir
  make -C "$BUILD_DIR" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
  $SUDO make -C "$BUILD_DIR" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# Runs a command against a throwaway cluster of PG_MAJOR on a free port, with
# PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PG_CONFIG set, as
# pg_virtualenv does:
#   with_cluster [-o guc=value]... command [args...]
# A Debian-packaged major uses pg_virtualenv itself (-v PG_MAJOR -t); another
# installation (18, a private tree) gets the same set-up by hand: initdb as the
# server user in a temporary directory, a random password, scram-sha-256 over
# localhost (where PGHOST points) and peer on its private Unix socket,
# fsync off; removed afterwards.
with_cluster() {
  local opts=() port o
  while [ "${1:-}" = -o ]; do opts+=("$2"); shift 2; done
  port=$(free_port)
  if [[ $PG_BINDIR == /usr/lib/postgresql/* ]]; then
    local pgv_opts=()
    for o in "${opts[@]+"${opts[@]}"}"; do pgv_opts+=(-o "$o"); done
    pg_virtualenv -v "$PG_MAJOR" -t -c "-p $port" "${pgv_opts[@]+"${pgv_opts[@]}"}" "$@"
    return
  fi
  local dir user="" status=0 password
  dir=$(mktemp -d "${TMPDIR:-/tmp}/recovery-pg$PG_MAJOR.XXXXXX")
  password=$(head -c 32 /dev/urandom | md5sum | cut -c1-20)
  echo "$password" >"$dir/pwfile"
  if [ "$(id -u)" -eq 0 ]; then user=postgres; chown -R "$user:" "$dir"; fi
  chmod 700 "$dir"
  as_server() { (cd / && if [ -n "$user" ]; then runuser -u "$user" -- "$@"; else "$@"; fi); }
  if ! as_server "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
      --auth-local=peer --auth-host=scram-sha-256 --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  fi
  {
    echo "port = $port"
    echo "listen_addresses = 'localhost'"
    echo "unix_socket_directories = '$dir'"
    echo "fsync = off"
    for o in "${opts[@]+"${opts[@]}"}"; do echo "${o%%=*} = '${o#*=}'"; done
  } >>"$dir/data/postgresql.conf"
  if ! as_server "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start; then
    tail -n 50 "$dir/server.log" >&2
    rm -rf "$dir"
    return 1
  fi
  (
    unset PGHOSTADDR PGSERVICE PGSYSCONFDIR
    export PGHOST=localhost PGPORT="$port" PGUSER=postgres PGPASSWORD="$password" PGDATABASE=postgres \
      PG_CONFIG PGVERSION="$PG_MAJOR"
    "$@"
  ) || status=$?
  if [ "$status" -ne 0 ]; then
    echo "*** $dir/server.log (last 100 lines) ***"
    tail -n 100 "$dir/server.log"
  fi
  as_server "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -s stop || true
  rm -rf "$dir"
  return "$status"
}
