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
# With SANITIZE=1, the copy's postgres loads the ASan runtime first (patched
# with patchelf, see scripts/asan-early-init.c), so any server started from
# the copy (initdb, pg_ctl, PostgreSQL::Test::Cluster) is sanitized; ASan
# reports go to DIR/sanitizer/asan.<pid>, UBSan's to the server's stderr
# (its log).

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
    # The copy's postgres gets the ASan runtime and asan-early-init.so (see
    # there) as its first libraries, like an executable linked with
    # -fsanitize=address: every server started from the copy is sanitized.
    local reports="$dir/sanitizer"
    command -v patchelf >/dev/null || { echo "private_tree: patchelf is missing (apt-get install patchelf)" >&2; return 2; }
    mkdir -p "$reports" && chmod 1777 "$reports"
    gcc -shared -fPIC -O2 -DREPORT_DIR="\"$reports\"" -o "$dir/asan-early-init.so" \
      "$ROOT/scripts/asan-early-init.c" -ldl
    local runtime
    runtime=$(objdump -p "$(gcc -print-file-name=libasan.so)" | awk '$1 == "SONAME" {print $2}')
    patchelf --add-needed "${runtime:-libasan.so.8}" "$dir$pg/bin/postgres"
    patchelf --add-needed "$dir/asan-early-init.so" "$dir$pg/bin/postgres"
    "$dir$pg/bin/postgres" -V >/dev/null || { echo "private_tree: the sanitized postgres does not run" >&2; return 2; }
  fi
  echo "$dir$pg/bin"
}

# The ASan reports written under a private tree (empty when none).
sanitizer_reports() {
  local dir=$1
  find "$dir/sanitizer" -type f -size +0 2>/dev/null | sort
}
