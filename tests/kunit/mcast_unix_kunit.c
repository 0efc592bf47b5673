// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of mcast_unix, run when the module loads (CONFIG_KUNIT=y).
 *
 * Each case calls the Rust case of the same name (rust/kunit.rs holds the
 * table; the cases live next to the code they test).  The last case checks
 * that this list and the Rust table have the same length.
 */
#include <kunit/test.h>
#include "mcast_unix_kernel.h"

void mcast_kunit_run(struct kunit *test, const char *name);
int mcast_kunit_count(void);

void mcast_kunit_fail(struct kunit *test, const char *file, int line, const char *msg)
{
	KUNIT_FAIL(test, "%s:%d: %s", file, line, msg);
}

#define RUST_CASES(X)					\
	X(create_accepts_dgram_and_seqpacket)		\
	X(create_refuses_other_types)			\
	X(create_refuses_protocols)			\
	X(rules_listen_and_connect)			\
	X(rules_shutdown_mirror)			\
	X(name_keys_per_namespace_and_type)		\
	X(address_lengths_and_family)			\
	X(address_pathname_is_cut_at_nul)		\
	X(address_full_length_path_unterminated)	\
	X(address_abstract_keeps_every_byte)		\
	X(address_autobind_name)			\
	X(mreq_parse_layout)				\
	X(mreq_parse_rejects_short_and_long)		\
	X(memberships_slots_without_allocation)	\
	X(remove_at_keeps_order)			\
	X(rcu_box_frees_replaced_values_after_a_grace_period) \
	X(membership_sender_skipped_unless_loopback)	\
	X(membership_drop_flag_marks_recipient)		\
	X(membership_send_to_peer_copies)		\
	X(membership_add_remove_errors)			\
	X(membership_peer_filter_follows_the_peer)

#define DEFINE_CASE(name) \
	static void name(struct kunit *test) { mcast_kunit_run(test, #name); }
RUST_CASES(DEFINE_CASE)

#define COUNT_CASE(name) + 1
static void every_rust_case_listed(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, mcast_kunit_count(), 0 RUST_CASES(COUNT_CASE));
}

static struct kunit_case mcast_unix_cases[] = {
#define LIST_CASE(name) KUNIT_CASE(name),
	RUST_CASES(LIST_CASE)
	KUNIT_CASE(every_rust_case_listed),
	{}
};

static struct kunit_suite mcast_unix_suite = {
	.name = "mcast_unix",
	.test_cases = mcast_unix_cases,
};
kunit_test_suite(mcast_unix_suite);
