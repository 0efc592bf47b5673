#!/bin/sh
# Inside the VM: the userspace suites, each printing TAP. (KUnit already ran
# when the module was loaded.)
rc=0
/mcast-tests || rc=1
# The syscall fuzzer, smoke size, with a fixed seed so make check repeats
# itself (make fuzz runs it long with a new seed, printed first).
/mcast-fuzz --ops 100000 --duration 900 --seed 20261201 || rc=1
# The documentation's C examples: each prints its own one-case TAP stream.
for ex in /example-*; do
  [ -x "$ex" ] || continue
  if ! "$ex"; then
    echo "1..1"
    echo "not ok 1 - $(basename "$ex") exited non-zero"
    rc=1
  fi
done
# 100 cycles of insmod, sockets of every kind, rmmod (refused while any
# socket exists); leaves the module loaded for what follows.
/mcast-stress --lifecycle 100 || rc=1
# A short concurrency stress (make stress runs it longer, on the KCSAN
# kernel); the seed is random and printed, --seed repeats a run's choices.
# Last: a kernel lockup it provokes panics the VM (softlockup_panic), and
# the results above are kept.
/mcast-stress --duration 20 || rc=1
exit $rc
