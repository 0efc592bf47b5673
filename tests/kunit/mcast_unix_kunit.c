// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of mcast_unix, run when the module loads (CONFIG_KUNIT=y).
 *
 * One parameterised case runs every Rust case (rust/kunit.rs walks them;
 * each is registered once, next to the code it tests), so nothing here
 * names a case.
 */
#include <kunit/test.h>
#include "mcast_unix_kernel.h"

const char *mcast_kunit_case_name(long i);
void mcast_kunit_run(struct kunit *test, long i);

void mcast_kunit_fail(struct kunit *test, const char *file, int line, const char *msg)
{
	KUNIT_FAIL(test, "%s:%d: %s", file, line, msg);
}

/*
 * The parameters are the Rust cases, by index (stored as index + 1, since a
 * NULL parameter ends the walk); each run is named after its case.
 */
static const void *rust_case_params(const void *prev, char *desc)
{
	long i = (long)prev;	/* the index of the next case */
	const char *name = mcast_kunit_case_name(i);

	if (!name)
		return NULL;
	strscpy(desc, name, KUNIT_PARAM_DESC_SIZE);
	return (const void *)(i + 1);
}

static void rust(struct kunit *test)
{
	mcast_kunit_run(test, (long)test->param_value - 1);
}

static struct kunit_case mcast_unix_cases[] = {
	KUNIT_CASE_PARAM(rust, rust_case_params),
	{}
};

static struct kunit_suite mcast_unix_suite = {
	.name = "mcast_unix",
	.test_cases = mcast_unix_cases,
};
kunit_test_suite(mcast_unix_suite);
