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
# other major in a copy of the sources under build/pgN. The test targets
# (installcheck ...) build nothing and run from the work tree for any major.
# RECOVERY_PG_BINDIR overrides the bin directory: another installation of
# that major, e.g. a private tree (private_tree below).
PATH_WITHOUT_PG=$PATH
use_major() {
  PG_MAJOR=$1
  PG_BINDIR=${RECOVERY_PG_BINDIR:-$(pg_bindir "$PG_MAJOR")}
  PG_CONFIG="$PG_BINDIR/pg_config"
  export PG_MAJOR PG_CONFIG PATH="$PG_BINDIR:$PATH_WITHOUT_PG"
  if [ "$PG_MAJOR" = 15 ]; then BUILD_DIR="$ROOT"; else BUILD_DIR="$ROOT/build/pg$PG_MAJOR"; fi
}
use_major "$PG_MAJOR"

# A TCP port nobody listens on, so runs (demo, tests) can overlap.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The source files of the work tree, relative to it: git's (tracked and
# untracked, ignored ones left out), or, outside git (a dist zip, the copy of
# become_postgres), every file but build and test outputs.
source_files() {
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -co --exclude-standard | while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done
  else
    (cd "$ROOT" && find . \( -path ./build -o -path ./.git -o -name node_modules -o -name .next -o -path ./results \
      -o -path ./output_iso -o -path ./tmp_check \) -prune -o -type f ! -name '*.o' ! -name '*.so' ! -name '*.d' \
      ! -name '*.bc' ! -name .built-for-postgresql -print | sed 's|^\./||')
  fi
}

# Makes directory $1 a copy of the sources, keeping what was built there
# (objects, build/, node_modules, generated code): files are replaced with
# their mtimes, so make rebuilds only what changed, and those that were
# sources at the last sync (.synced-sources) but are no longer go. The rest
# of the arguments prefix the commands that write (runuser -u postgres --).
sync_tree() {
  local dir=$1 list
  shift
  list=$(source_files | LC_ALL=C sort)
  "$@" mkdir -p "$dir"
  [ ! -f "$dir/.synced-sources" ] ||
    LC_ALL=C comm -23 "$dir/.synced-sources" - <<<"$list" | (cd "$dir" && "$@" xargs -r -d '\n' rm -f)
  tar -C "$ROOT" -cf - -T - <<<"$list" | "$@" tar -C "$dir" -xf -
  "$@" tee "$dir/.synced-sources" >/dev/null <<<"$list"
}

# Builds the extension for PG_MAJOR (in BUILD_DIR) and installs it into that
# major's installation, with its own pg_config.
build_and_install() {
  [ "$BUILD_DIR" = "$ROOT" ] || sync_tree "$BUILD_DIR"
  make -C "$BUILD_DIR" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
  $SUDO make -C "$BUILD_DIR" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# The one place that leaves root. PostgreSQL refuses to run as root (initdb,
# PostgreSQL::Test::Cluster) and the tests write into the tree they run from,
# so as root, a script calls `become_postgres "$@"` once its root-only steps
# are done (apt, installing into the system): it re-runs that script, with its
# arguments and environment (RECOVERY_AS_POSTGRES=1 added), as user postgres
# in build/as-postgres/, a copy of the sources that user owns (synced each
# time, so what is built there stays), copies its logs (build/*-logs/) and
# build/test-artifacts/ back and exits with its status. Not root: returns, and the script goes on.
become_postgres() {
  [ "$(id -u)" -eq 0 ] || return 0
  id postgres >/dev/null 2>&1 || { echo "user postgres does not exist (apt-get install postgresql-common)" >&2; exit 2; }
  local copy="$ROOT/build/as-postgres" script status=0 d
  script=$(realpath --relative-to="$ROOT" "$0")
  mkdir -p "$copy" && chown postgres: "$copy"
  sync_tree "$copy" runuser -u postgres --
  (cd "$copy" && RECOVERY_AS_POSTGRES=1 runuser -u postgres -- bash "$copy/$script" "$@") || status=$?
  for d in "$copy"/build/*-logs "$copy"/build/test-artifacts; do
    [ ! -d "$d" ] || { mkdir -p "$ROOT/build/${d##*/}" && cp -r "$d/." "$ROOT/build/${d##*/}/"; }
  done
  exit "$status"
}

# Runs a command against a throwaway cluster of PG_MAJOR on a free port, with
# PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PG_CONFIG set, as
# pg_virtualenv does:
#   with_cluster [-o guc=value]... command [args...]
# A Debian-packaged major uses pg_virtualenv itself (-v PG_MAJOR -t); another
# installation (18, a private tree) gets the same set-up by hand: initdb in a
# temporary directory, a random password, scram-sha-256 over localhost (where
# PGHOST points) and peer on its private Unix socket, fsync off; removed
# afterwards. Not as root (see become_postgres).
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
  local dir status=0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/recovery-pg$PG_MAJOR.XXXXXX")
  head -c 32 /dev/urandom | md5sum | cut -c1-20 >"$dir/pwfile"
  if ! "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=peer \
      --auth-host=scram-sha-256 --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
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
  if ! "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start; then
    tail -n 50 "$dir/server.log" >&2
    rm -rf "$dir"
    return 1
  fi
  (
    unset PGHOSTADDR PGSERVICE PGSYSCONFDIR
    export PGHOST=localhost PGPORT="$port" PGUSER=postgres PGPASSWORD="$(cat "$dir/pwfile")" \
      PGDATABASE=postgres PG_CONFIG PGVERSION="$PG_MAJOR"
    "$@"
  ) || status=$?
  if [ "$status" -ne 0 ]; then
    echo "*** $dir/server.log (last 100 lines) ***"
    tail -n 100 "$dir/server.log"
  fi
  "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -s stop || true
  rm -rf "$dir"
  return "$status"
}

# Counts in a log of pg_regress or pg_isolation_regress (15's "All 7 tests
# passed." or 18's TAP "# 1 of 7 tests failed."): prints "PASSED FAILED",
# summed over the runs in the log. Only counts: the exit status decides.
regress_counts() {
  awk '/All [0-9]+ tests passed/ { for (i = 1; i <= NF; i++) if ($i == "All") { ok += $(i + 1); break } }
       /[0-9]+ of [0-9]+ tests failed/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "of") { bad += $i; ok += $(i + 2) - $i; break } }
       END { print ok + 0, bad + 0 }' "$1"
}

# Counts in the output of prove -v or pg_prove -v (TAP::Harness): prints
# "PASSED FAILED", the tests of "Files=N, Tests=M" less those failed (the
# summary report's "Failed: N", and a file listed there without any, as for a
# "Bad plan", counts as one) and less those skipped inside a file ("ok N #
# skip"). The skipped ones, "FILE (reason)", one a line, go to file $2 when
# given, with the files that skipped themselves (plan skip_all).
tap_counts() {
  awk -v skips="${2:-/dev/null}" '
    /^[^ ]+\.(pl|sql) \.+/ { file = $1; sub(/^.*\//, "", file) }
    /^[^ ]+\.(pl|sql) \.+ skipped: / { r = $0; sub(/^[^:]*: /, "", r); print file " (" r ")" > skips }
    /^[ \t]*ok [0-9]+ .*# (skip|SKIP)/ { r = $0; sub(/^.*# (skip|SKIP) ?/, "", r); print file " (" r ")" > skips; skipped++ }
    /^Files=[0-9]+, Tests=[0-9]+/ { split($2, t, "="); tests = t[2] + 0 }
    /\(Wstat: .* Tests: [0-9]+ Failed: [0-9]+\)/ { n = $0; sub(/.*Failed: /, "", n); n += 0; bad += (n > 0 ? n : 1); failed += n }
    END { print tests - failed - skipped, bad + 0 }' "$1"
}

# --- private trees ------------------------------------------------------------
# A private copy of the PostgreSQL 15 installation with this tree's recovery
# built into it, for runs that must not use, or touch, the system-wide
# recovery.so: sanitizer and valgrind builds, or testing this branch while
# another build is installed system-wide (RECOVERY_TEST_PRIVATE=1).
#
#   private_tree DIR [make variables...]     e.g. private_tree /tmp/x SANITIZE=1
#
# DIR gets the Debian layout (DIR/usr/lib/postgresql/15/{bin,lib},
# DIR/usr/share/postgresql/15), copied, not linked. PostgreSQL finds its share
# and lib directories relative to its own executable, so the copied
# postgres, initdb and pg_config all use the copy ($libdir is
# DIR/usr/lib/postgresql/15/lib): CREATE EXTENSION recovery and
# shared_preload_libraries load the copy's recovery.so and install script.
# The build runs in DIR/build (a copy of the sources), so the work tree's
# objects are untouched, and installs with the copy's pg_config. Prints the
# copy's bin directory.
#
# With SANITIZE=1, the copy's postgres loads the ASan runtime first (patched
# with patchelf, see test/sanitize/asan-early-init.c), so any server started
# from the copy (initdb, pg_ctl, PostgreSQL::Test::Cluster) is sanitized; ASan
# reports go to DIR/sanitizer/asan.<pid>, UBSan's to the server's stderr
# (its log).
private_tree() {
  local dir=$1
  shift
  local pg=/usr/lib/postgresql/15 share=/usr/share/postgresql/15 sanitize="" arg
  for arg in "$@"; do [[ $arg == SANITIZE=?* ]] && sanitize=1; done
  [ -n "$dir" ] && [ "$dir" != / ] || { echo "private_tree: no directory" >&2; return 2; }

  mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql"
  rm -rf "${dir:?}$pg" "${dir:?}$share"
  cp -a "$pg" "$dir/usr/lib/postgresql/"
  cp -a "$share" "$dir/usr/share/postgresql/"
  rm -f "$dir$pg/lib/recovery.so" "$dir$pg/bin/recover-stuck-runs" "$dir$share/extension/recovery".* \
    "$dir$share/extension/recovery--"*
  # Headers are only read: a link to the system's.
  mkdir -p "$dir/usr/include"
  ln -sfn /usr/include/postgresql "$dir/usr/include/postgresql"
  chmod 755 "$dir"

  local pg_config="$dir$pg/bin/pg_config" libdir
  libdir=$("$pg_config" --pkglibdir)
  # The guard that matters: everything installs under $dir, never into $pg.
  if [[ $libdir != "$dir"/* ]] || [[ $("$pg_config" --sharedir) != "$dir"/* ]]; then
    echo "private_tree: the copied pg_config does not relocate ($libdir); refusing to install" >&2
    return 2
  fi

  local src="$dir/build"
  rm -rf "$src" && mkdir -p "$src"
  source_files | grep -v '^examples/' | tar -C "$ROOT" -cf - -T - | tar -C "$src" -xf -
  make -C "$src" -s -j"$(nproc)" PG_CONFIG="$pg_config" "$@" >/dev/null
  make -C "$src" -s install PG_CONFIG="$pg_config" "$@" >/dev/null
  [ -f "$libdir/recovery.so" ] && [ ! -L "$libdir/recovery.so" ] || {
    echo "private_tree: $libdir/recovery.so was not installed" >&2
    return 2
  }

  if [ -n "$sanitize" ]; then
    # The copy's postgres gets the ASan runtime and asan-early-init.so (see
    # there) as its first libraries, like an executable linked with
    # -fsanitize=address: every server started from the copy is sanitized.
    local reports="$dir/sanitizer" runtime
    mkdir -p "$reports" && chmod 1777 "$reports"
    gcc -shared -fPIC -O2 -DREPORT_DIR="\"$reports\"" -o "$dir/asan-early-init.so" \
      "$ROOT/test/sanitize/asan-early-init.c" -ldl
    runtime=$(objdump -p "$(gcc -print-file-name=libasan.so)" | awk '$1 == "SONAME" {print $2}')
    patchelf --add-needed "${runtime:-libasan.so.8}" "$dir$pg/bin/postgres"
    patchelf --add-needed "$dir/asan-early-init.so" "$dir$pg/bin/postgres"
    "$dir$pg/bin/postgres" -V >/dev/null || { echo "private_tree: the sanitized postgres does not run" >&2; return 2; }
  fi
  echo "$dir$pg/bin"
}

# The ASan reports written under a private tree (empty when none).
sanitizer_reports() {
  find "$1/sanitizer" -type f -size +0 2>/dev/null | sort
}
