#!/usr/bin/env bash
# Makes PostgreSQL 18 available for building and testing recovery: built from
# Debian's own source package (suite sid), with the TAP test modules
# (PostgreSQL::Test::Cluster), pg_regress, pg_isolation_regress, contrib and pgTAP (Debian's pgtap
# source package, built against it). Idempotent; needs root (or sudo).
#   bash scripts/pg18.sh            install: nothing to do when installed,
#                                   from the cache in seconds, else build once
#   bash scripts/pg18.sh --update   refresh sid's source index first (a newer
#                                   Debian version is then built and cached)
#
# Where things go (outside the repository):
#   $RECOVERY_PG18_PREFIX (/opt/recovery/postgresql/18)   the installation:
#       bin/pg_config, lib/pgxs/src/test/{perl,regress}, share/extension ...
#       Not /usr/lib/postgresql/18: postgresql-common's pg_virtualenv and
#       /usr/bin/pg_config pick the newest major found there, which would
#       silently move every other build and test on this machine to 18.
#   $RECOVERY_BUILD_CACHE (/var/cache/recovery-build)    source packages, build
#       trees, and the installed trees as tarballs keyed by the Debian
#       versions: postgresql-18_<version>.<rev>.tar, pgtap_<version>+pg<version>.<rev>.tar
#
# The deb-src entry for sid is written to
# /etc/apt/sources.list.d/recovery-sid-src.sources with the URI of the
# machine's own entry for bookworm (no host name is written by this script),
# and only that file is updated (apt-get update of the other lists is left
# alone). A download that fails stops the script with an ERROR and a non-zero
# status, with one exception: when only the Debian part of pgtap (.dsc,
# .debian.tar) is missing from the mirror but its upstream .orig tarball was
# fetched and matches the signed index, pgTAP is built from that tarball,
# with a WARNING (Debian's patches to pgtap, if any, are then not applied).
# pg_cron is not built: its source is not available here.
set -euo pipefail

MAJOR=18
PREFIX=${RECOVERY_PG18_PREFIX:-/opt/recovery/postgresql/$MAJOR}
CACHE=${RECOVERY_BUILD_CACHE:-/var/cache/recovery-build}
SOURCES_FILE=/etc/apt/sources.list.d/recovery-sid-src.sources
SRC_SUITE=sid
# Bump when the configure options or the installed parts change: the cached
# tarballs of an older recipe are then rebuilt.
RECIPE=1
JOBS=${RECOVERY_BUILD_JOBS:-2}
STAMP="$PREFIX/.recovery-pg18"

say() { echo "pg18: $*"; }
die() {
  echo "" >&2
  echo "pg18: ERROR: $*" >&2
  echo "" >&2
  exit 1
}
# The prefix is replaced whole on each new install: only a directory of its own.
[[ $PREFIX == /?*/$MAJOR ]] || die "RECOVERY_PG18_PREFIX must be an absolute directory ending in /$MAJOR, not '$PREFIX'"

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "needs root (apt-get, installing into $PREFIX)"
  exec sudo --preserve-env=RECOVERY_PG18_PREFIX,RECOVERY_BUILD_CACHE,RECOVERY_BUILD_JOBS bash "$0" "$@"
fi

update=""
for arg in "$@"; do
  case $arg in
    --update) update=1 ;;
    *) echo "usage: pg18.sh [--update]" >&2; exit 2 ;;
  esac
done

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one run at a time (the cache and the prefix are shared)

# ---------------------------------------------------------------------------
# 1. The deb-src entry for sid, from the machine's own bookworm entry.

# Prints "URI<TAB>Signed-By" of the first enabled "deb" entry serving the suite
# bookworm itself (not bookworm-updates or -security), deb822 or one-line.
bookworm_entry() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$SOURCES_FILE" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ / bookworm / && enabled != "no" && uris != "") {
          split(uris, u, " "); print u[1] "\t" signed; found = 1; exit
        }
        types = suites = uris = signed = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "suites") suites = val
        else if (key == "uris") uris = val
        else if (key == "signed-by") signed = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { if (!found) flush() }' "$f"
  done | head -n 1 && return 0
}
bookworm_line_entry() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI bookworm components...
    sed -nE 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+bookworm[[:space:]].*/\2/p' "$f"
  done | head -n 1
}

write_sources() {
  local entry uri signed
  entry=$(bookworm_entry)
  if [ -n "$entry" ]; then
    uri=${entry%%$'\t'*}
    signed=${entry#*$'\t'}
  else
    uri=$(bookworm_line_entry)
    signed=""
  fi
  [ -n "$uri" ] || die "no apt entry serving bookworm found in /etc/apt/sources.list{,.d/} to take the mirror from"
  [ -n "$signed" ] || signed=/usr/share/keyrings/debian-archive-keyring.gpg
  local content
  content="# Written by recovery's scripts/pg18.sh: Debian $SRC_SUITE's source packages
# (postgresql-$MAJOR, pgtap), from the mirror serving bookworm on this machine.
Types: deb-src
URIs: $uri
Suites: $SRC_SUITE
Components: main
Signed-By: $signed
"
  if [ ! -f "$SOURCES_FILE" ] || [ "$(cat "$SOURCES_FILE")" != "${content%$'\n'}" ]; then
    printf '%s' "$content" >"$SOURCES_FILE"
    say "wrote $SOURCES_FILE ($SRC_SUITE sources from $uri)"
    update=1
  fi
}

# apt-get update of the sid sources only (the other lists are not touched).
update_sources() {
  say "apt-get update ($SRC_SUITE sources only)"
  local log="$CACHE/apt-update.log"
  if ! apt-get update -o Dir::Etc::SourceList="$SOURCES_FILE" -o Dir::Etc::SourceParts=- \
      -o APT::Get::List-Cleanup=0 >"$log" 2>&1 || grep -qE '^(W|E): ' "$log"; then
    cat "$log" >&2
    die "apt-get update of $SOURCES_FILE failed: the $SRC_SUITE source index could not be downloaded"
  fi
}

# The newest version of source package $1 in the index ("" if none).
source_version() {
  local v best=""
  while read -r v; do
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done < <(apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p')
  echo "$best"
}

write_sources
[ -z "$update" ] || update_sources
PG_VERSION=$(source_version "postgresql-$MAJOR")
PGTAP_VERSION=$(source_version pgtap)
if [ -z "$PG_VERSION" ] || [ -z "$PGTAP_VERSION" ]; then
  update_sources
  PG_VERSION=$(source_version "postgresql-$MAJOR")
  PGTAP_VERSION=$(source_version pgtap)
fi
[ -n "$PG_VERSION" ] || die "source package postgresql-$MAJOR not found in $SRC_SUITE"
[ -n "$PGTAP_VERSION" ] || die "source package pgtap not found in $SRC_SUITE"

PG_KEY="postgresql-${MAJOR}_$PG_VERSION.r$RECIPE"
PGTAP_KEY="pgtap_$PGTAP_VERSION+pg$PG_VERSION.r$RECIPE"
WANT="$PG_KEY $PGTAP_KEY prefix=$PREFIX"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$PREFIX/bin/postgres" ]; then
  say "PostgreSQL $MAJOR ($PG_VERSION) and pgTAP ($PGTAP_VERSION) are installed in $PREFIX"
  [ ! -f "$CACHE/$PGTAP_KEY.tar.orig-only" ] || say "(pgTAP built from its upstream tarball only, see the first run's warning)"
  exit 0
fi

# ---------------------------------------------------------------------------
# 2. Build dependencies, only those missing.
build_deps=(build-essential dpkg-dev bison flex pkg-config libreadline-dev libssl-dev zlib1g-dev
  libicu-dev liblz4-dev libzstd-dev libipc-run-perl perl tzdata xz-utils bzip2)
missing=()
for p in "${build_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing build dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    die "could not install the build dependencies: ${missing[*]}"
fi

# The file names and SHA-256 sums of source package $1 version $2, from the
# (signed) index: "SUM NAME" lines.
source_files() {
  apt-cache showsrc --only-source "$1" 2>/dev/null | awk -v want="$2" '
    /^Package: / { version = "" }
    /^Version: / { version = $2 }
    /^[^ ]/ { in_sums = ($1 == "Checksums-Sha256:") }
    /^ / && in_sums && version == want { print $1, $3 }'
}

# Unpacks the upstream tarball of $1=$2 into $3 when apt-get source could not
# fetch the Debian part (.dsc, .debian.tar) but did fetch the .orig tarball,
# verified against the index. Fails when the upstream tarball is not there.
unpack_orig_only() {
  local pkg=$1 version=$2 target=$3 dir="$CACHE/src" sum name orig=""
  while read -r sum name; do
    case $name in
      *.orig.tar.*)
        [ -f "$dir/$name" ] && echo "$sum  $dir/$name" | sha256sum -c --quiet - >/dev/null 2>&1 || return 1
        orig="$dir/$name" ;;
    esac
  done < <(source_files "$pkg" "$version")
  [ -n "$orig" ] || return 1
  {
    echo ""
    echo "pg18: WARNING ************************************************************"
    echo "pg18: WARNING: the Debian part of source package $pkg $version (.dsc, .debian.tar)"
    echo "pg18: WARNING: could not be downloaded (see $CACHE/apt-source-$pkg.log);"
    echo "pg18: WARNING: building from its upstream tarball ${orig##*/} alone,"
    echo "pg18: WARNING: whose SHA-256 matches the signed $SRC_SUITE index. Debian's patches, if any, are NOT applied."
    echo "pg18: WARNING ************************************************************"
    echo ""
  } >&2
  mkdir -p "$target"
  tar -xf "$orig" -C "$target" --strip-components=1
  echo "$version orig-only" >"$target/.recovery-version"
}

# apt-get source PACKAGE VERSION into $CACHE/src; prints the unpacked
# directory. pgTAP only: with the upstream tarball alone when the Debian
# part is missing from the mirror (see unpack_orig_only).
fetch_source() {
  local pkg=$1 version=$2 dir="$CACHE/src" upstream
  upstream=${version#*:}
  upstream=${upstream%-*}
  mkdir -p "$dir"
  if [ ! -d "$dir/$pkg-$upstream" ] || [ "$(cut -d' ' -f1 "$dir/$pkg-$upstream/.recovery-version" 2>/dev/null)" != "$version" ]; then
    rm -rf "${dir:?}/$pkg-$upstream"
    say "apt-get source $pkg=$version" >&2
    if ! (cd "$dir" && apt-get source -q "$pkg=$version" >"$CACHE/apt-source-$pkg.log" 2>&1); then
      # An index older than the mirror: refresh once and retry.
      update_sources >&2
      if ! (cd "$dir" && apt-get source -q "$pkg=$version" >"$CACHE/apt-source-$pkg.log" 2>&1); then
        grep -E '^(E|Err):' "$CACHE/apt-source-$pkg.log" >&2 || cat "$CACHE/apt-source-$pkg.log" >&2
        if [ "$pkg" != pgtap ] || ! unpack_orig_only "$pkg" "$version" "$dir/$pkg-$upstream"; then
          die "apt-get source $pkg=$version failed: the source package could not be downloaded"
        fi
      fi
    fi
    [ -d "$dir/$pkg-$upstream" ] || die "apt-get source $pkg: $dir/$pkg-$upstream was not unpacked"
    [ -f "$dir/$pkg-$upstream/.recovery-version" ] || echo "$version" >"$dir/$pkg-$upstream/.recovery-version"
  fi
  echo "$dir/$pkg-$upstream"
}

started=$(date +%s)

# ---------------------------------------------------------------------------
# 3. PostgreSQL 18: the cached tarball, or configure, build and cache it.
PG_TAR="$CACHE/$PG_KEY.tar"
# A tarball cached without the isolation tester (the specs/ suite needs it) is
# rebuilt. PostgreSQL's `make install` has always installed it, so this only
# guards against a tarball made by hand.
if [ -f "$PG_TAR" ] && ! tar -tf "$PG_TAR" ".$PREFIX/lib/pgxs/src/test/isolation/pg_isolation_regress" >/dev/null 2>&1; then
  say "$PG_TAR has no pg_isolation_regress: rebuilding it"
  rm -f "$PG_TAR"
fi
if [ ! -f "$PG_TAR" ]; then
  src=$(fetch_source "postgresql-$MAJOR" "$PG_VERSION")
  build="$CACHE/build/postgresql-$MAJOR"
  stage="$CACHE/stage/postgresql-$MAJOR"
  rm -rf "$build" "$stage"
  mkdir -p "$build"
  log="$CACHE/build-postgresql-$MAJOR.log"
  say "building PostgreSQL $PG_VERSION with -j$JOBS (log: $log)"
  # A VPATH build keeps the unpacked source clean. The options follow Debian's
  # (debian/rules) where recovery's tests can tell: ICU, OpenSSL, LZ4, Zstd,
  # system time zones, -O2 -g; plus the TAP test modules.
  (
    cd "$build"
    nice -n 10 "$src/configure" --prefix="$PREFIX" --enable-tap-tests --enable-debug \
      --with-openssl --with-icu --with-lz4 --with-zstd --with-system-tzdata=/usr/share/zoneinfo \
      --with-extra-version=" (recovery build of Debian $PG_VERSION)" \
      CFLAGS="-O2 -g" &&
      nice -n 10 make -j"$JOBS" -s &&
      nice -n 10 make -j"$JOBS" -s -C contrib &&
      make -s install DESTDIR="$stage" &&
      make -s -C contrib install DESTDIR="$stage"
  ) >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "building PostgreSQL $PG_VERSION failed (see $log)"; }
  for f in bin/postgres bin/pg_config bin/pgbench lib/pgxs/src/test/regress/pg_regress \
    lib/pgxs/src/test/isolation/pg_isolation_regress lib/pgxs/src/test/isolation/isolationtester \
    lib/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm share/extension/dblink.control; do
    [ -e "$stage$PREFIX/$f" ] || die "the PostgreSQL build did not install $PREFIX/$f"
  done
  tar -C "$stage" -cf "$PG_TAR.tmp" . && mv "$PG_TAR.tmp" "$PG_TAR"
  rm -rf "$stage" "$build"
  say "cached $PG_TAR"
fi

install_pg() {
  rm -rf "${PREFIX:?}"
  tar -C / -xf "$PG_TAR"
}
install_pg

# ---------------------------------------------------------------------------
# 4. pgTAP, built with that pg_config, cached the same way.
PGTAP_TAR="$CACHE/$PGTAP_KEY.tar"
if [ ! -f "$PGTAP_TAR" ]; then
  src=$(fetch_source pgtap "$PGTAP_VERSION")
  build="$CACHE/build/pgtap"
  stage="$CACHE/stage/pgtap"
  rm -rf "$build" "$stage"
  mkdir -p "$(dirname "$build")"
  cp -a "$src" "$build"
  log="$CACHE/build-pgtap.log"
  say "building pgTAP $PGTAP_VERSION for PostgreSQL $PG_VERSION (log: $log)"
  (
    cd "$build"
    nice -n 10 make PG_CONFIG="$PREFIX/bin/pg_config" &&
      make install PG_CONFIG="$PREFIX/bin/pg_config" DESTDIR="$stage"
  ) >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "building pgTAP $PGTAP_VERSION failed (see $log)"; }
  [ -f "$stage$PREFIX/share/extension/pgtap.control" ] || die "the pgTAP build did not install pgtap.control"
  tar -C "$stage" -cf "$PGTAP_TAR.tmp" . && mv "$PGTAP_TAR.tmp" "$PGTAP_TAR"
  if grep -q orig-only "$src/.recovery-version"; then touch "$PGTAP_TAR.orig-only"; else rm -f "$PGTAP_TAR.orig-only"; fi
  rm -rf "$stage" "$build"
  say "cached $PGTAP_TAR"
fi
tar -C / -xf "$PGTAP_TAR"
[ ! -f "$PGTAP_TAR.orig-only" ] ||
  say "WARNING: pgTAP $PGTAP_VERSION was built from its upstream tarball only (Debian's .dsc and .debian.tar were not downloadable)"

echo "$WANT" >"$STAMP"
say "PostgreSQL $MAJOR ($PG_VERSION) and pgTAP ($PGTAP_VERSION) installed in $PREFIX in $(($(date +%s) - started))s"
"$PREFIX/bin/postgres" --version
