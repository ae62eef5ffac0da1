# A private copy of the PostgreSQL 15 installation with this tree's recovery
# built into it (sourced; needs lib.sh). For runs that must not use, or touch,
# the system-wide recovery.so: sanitizer and valgrind builds, or testing this
# branch while another build is installed system-wide.
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
# objects are untouched, and installs with the copy's pg_config.
#
# With SANITIZE=1, the copy's postgres is a wrapper that preloads the ASan
# runtime (an uninstrumented postgres loading an instrumented module needs
# it first in the library list) and sets ASAN_OPTIONS/UBSAN_OPTIONS, so any
# server started from the copy (pg_ctl, initdb, PostgreSQL::Test::Cluster) is
# sanitized; reports go to DIR/sanitizer/<asan|ubsan>.<pid>.

PG_SYSTEM_BINDIR=/usr/lib/postgresql/15/bin

private_tree() {
  local dir=$1
  shift
  local pg=/usr/lib/postgresql/15 share=/usr/share/postgresql/15 sanitize=""
  local arg
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

  local pg_config="$dir$pg/bin/pg_config"
  local libdir
  libdir=$("$pg_config" --pkglibdir)
  # The guard that matters: everything installs under $dir, never into $pg.
  if [[ $libdir != "$dir"/* ]] || [[ $("$pg_config" --sharedir) != "$dir"/* ]]; then
    echo "private_tree: the copied pg_config does not relocate ($libdir); refusing to install" >&2
    return 2
  fi

  local src="$dir/build"
  rm -rf "$src" && mkdir -p "$src"
  (cd "$ROOT" && tar cf - --exclude=./build --exclude='./build-*' --exclude=./.git \
    --exclude=node_modules --exclude=./examples --exclude=./results --exclude='*.o' \
    --exclude='*.so' --exclude='*.d' --exclude='*.bc' .) | tar xf - -C "$src"
  make -C "$src" -s -j"$(nproc)" PG_CONFIG="$pg_config" "$@" >/dev/null
  make -C "$src" -s install PG_CONFIG="$pg_config" "$@" >/dev/null
  [ -f "$libdir/recovery.so" ] && [ ! -L "$libdir/recovery.so" ] || {
    echo "private_tree: $libdir/recovery.so was not installed" >&2
    return 2
  }

  if [ -n "$sanitize" ]; then
    local asan reports="$dir/sanitizer"
    asan=$(readlink -f "$(gcc -print-file-name=libasan.so)")
    [ -f "$asan" ] || { echo "private_tree: no ASan runtime (gcc -print-file-name=libasan.so)" >&2; return 2; }
    mkdir -p "$reports" && chmod 1777 "$reports"
    mv "$dir$pg/bin/postgres" "$dir$pg/bin/postgres.bin"
    # detect_leaks=0: PostgreSQL frees by resetting memory contexts.
    cat >"$dir$pg/bin/postgres" <<EOF
#!/bin/sh
# Sanitized postgres (scripts/private-tree.sh): preloads the ASan runtime.
export LD_PRELOAD="$asan\${LD_PRELOAD:+:\$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$reports/asan\${ASAN_EXTRA:+:\$ASAN_EXTRA}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
exec "\$(dirname "\$0")/postgres.bin" "\$@"
EOF
    chmod 755 "$dir$pg/bin/postgres"
    rm -f "$dir$pg/bin/postmaster" && ln -s postgres "$dir$pg/bin/postmaster"
  fi
  echo "$dir$pg/bin"
}

# The sanitizer reports written under a private tree (empty when none).
sanitizer_reports() {
  local dir=$1
  find "$dir/sanitizer" -type f -size +0 2>/dev/null | sort
}
