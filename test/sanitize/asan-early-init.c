/*
 * Linked into the private, sanitized copy of postgres (scripts/private-tree.sh
 * adds it and the ASan runtime to the executable's DT_NEEDED with patchelf),
 * so that an uninstrumented postgres can load recovery.so built with
 * -fsanitize=address,undefined, whoever starts it (initdb, pg_ctl start and
 * restart, PostgreSQL::Test::Cluster) and without environment variables.
 *
 * 1. Default options. ASAN_OPTIONS/UBSAN_OPTIONS still override them.
 *    detect_leaks=0: PostgreSQL frees by resetting memory contexts.
 *    verify_asan_link_order=0: this library comes before the runtime in the
 *    library list (so that these definitions win); the runtime still comes
 *    before libc, which is what interposing malloc and friends needs.
 *    REPORT_DIR is set when compiling: reports go to REPORT_DIR/asan.<pid>.
 *
 * 2. bindtextdomain(). A runtime that is not linked into the executable
 *    initializes on the first intercepted call. In PostgreSQL's processes that
 *    first call is a malloc() inside glibc's bindtextdomain(), made by
 *    libgpg-error's constructor while it holds glibc's _nl_state_lock for
 *    writing; the runtime's initialization then calls dlerror() ->
 *    dcgettext(), which takes and releases the same lock as a reader and
 *    leaves it corrupted: PostgreSQL's own bindtextdomain() in main() then
 *    waits forever. This bindtextdomain() allocates once before taking the
 *    lock, so the runtime initializes outside it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#ifndef REPORT_DIR
#error "compile with -DREPORT_DIR=\"/path\""
#endif

const char *
__asan_default_options(void)
{
	return "detect_leaks=0:abort_on_error=1:disable_coredump=1:verify_asan_link_order=0:"
		"log_path=" REPORT_DIR "/asan";
}

const char *
__ubsan_default_options(void)
{
	return "print_stacktrace=1:halt_on_error=1";
}

char *
bindtextdomain(const char *domain, const char *dir)
{
	static char *(*real) (const char *, const char *);

	if (!real)
	{
		void	   *volatile p = malloc(16);	/* volatile: not elided */

		free(p);
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	}
	return real(domain, dir);
}
