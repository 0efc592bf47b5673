#!/bin/sh
# Inside the VM: the userspace suites, each printing TAP. (KUnit already ran
# when the module was loaded.)
rc=0
/mcast-tests || rc=1
# The syscall fuzzer, smoke size (make fuzz runs it long). A new seed each
# run, printed first ("# seed N"): replay with make fuzz SEED=N OPS=100000.
/mcast-fuzz --ops 100000 --duration 240 --seed "$RANDOM$RANDOM" || rc=1
# The documentation's C examples: each prints its own one-case TAP stream.
for ex in /example-*; do
  [ -x "$ex" ] || continue
  if ! "$ex"; then
    echo "1..1"
    echo "not ok 1 - $(basename "$ex") exited non-zero"
    rc=1
  fi
done
exit $rc
