# mcast_unix — top-level entry points.
#
#   make            build mcast_unix.ko against KDIR (default: the test kernel)
#   make CLIPPY=1   the same, with clippy over the Rust code
#   make check      everything: setup, host tests, module, VM tests
#   make demo       boot the test kernel and show the family at work
#   make bench      boot the perf kernel and run the benchmarks (mcast_unix against
#                   the alternatives, ratios to AF_UNIX); results in bench/results/
#   make fuzz       boot the test kernel and run the syscall fuzzer
#                   (SEED=N OPS=N DURATION=SECS; defaults: random, 1000000, 1200)
#   make stress     the concurrency stress on the KCSAN kernel (DURATION=60 seconds)
#   make setup      install packages/tools and build the test kernel (idempotent)
#
# KDIR=/path/to/kernel/build builds against another 6.12+ tree with CONFIG_RUST.

TOP := $(CURDIR)
DEFAULT_KDIR := $(shell bash -c '. scripts/env.sh; kernel_build_dir' 2>/dev/null)
KDIR ?= $(DEFAULT_KDIR)
BINDINGS := rust/sys/bindings_generated.rs

.PHONY: all module setup check demo bench fuzz stress clean userspace selftest

all: module

setup:
	@scripts/setup

# The test kernel is built on demand when KDIR is the default.
module:
	@if [ "$(KDIR)" = "$(DEFAULT_KDIR)" ] && ! scripts/setup --check; then scripts/setup; fi
	@scripts/build-module "$(KDIR)" $(if $(CLIPPY),CLIPPY=1)

userspace:
	@scripts/build-userspace

selftest:
	@qemu/selftest

check:
	@scripts/check

demo:
	@scripts/demo

bench:
	@scripts/bench

fuzz:
	@SEED="$(SEED)" OPS="$(OPS)" DURATION="$(DURATION)" scripts/fuzz

stress:
	@scripts/stress

clean:
	@[ ! -d "$(KDIR)" ] || $(MAKE) -s -C "$(KDIR)" M=$(TOP) LLVM=1 clean
	rm -f $(BINDINGS) rust/sys/.bindings.kdir
	rm -rf target
