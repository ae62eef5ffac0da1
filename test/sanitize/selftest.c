/*
 * Positive controls for scripts/sanitize.sh: two SQL-callable functions with
 * deliberate bugs, built with the same sanitizer flags as recovery and loaded
 * into the same sanitized server. If calling them does not produce an ASan
 * and a UBSan report, the set-up is blind and its clean results mean nothing.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(asan_selftest_overflow);
Datum
asan_selftest_overflow(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	volatile char *p = (volatile char *) malloc(8);

	p[n] = 1;					/* heap-buffer-overflow for n >= 8 */
	free((void *) p);
	PG_RETURN_INT32(n);
}

PG_FUNCTION_INFO_V1(asan_selftest_signed_overflow);
Datum
asan_selftest_signed_overflow(PG_FUNCTION_ARGS)
{
	volatile int32 n = PG_GETARG_INT32(0);

	PG_RETURN_INT32(n + 1);		/* signed overflow for n = INT_MAX */
}
