#!/bin/sh
# Inside the VM: what `make bench` runs. Arguments go to mcast-bench
# (e.g. --quick). Only ratios within this one run mean anything: the VM's
# clock runs under emulation.
echo "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs, family $(cat /sys/module/mcast_unix/parameters/family)"
echo "net.unix.max_dgram_qlen=$(cat /proc/sys/net/unix/max_dgram_qlen) net.core.rmem_default=$(cat /proc/sys/net/core/rmem_default)"
# udp_mcast: loopback up and multicast-capable, with a route for the
# multicast range (the sender also names lo with IP_MULTICAST_IF).
ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo \
  || echo "bench.sh: could not set up lo for multicast"
# The first measurements of a boot came out far off while the kernel was
# still on its early clocksource (tsc-early; the refined tsc replaces it some
# seconds after boot, and mcast-bench also warms each system up first).
# Wait for tsc (at most 30 s: a host without a usable TSC keeps what it has).
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
i=0
while [ "$(cat $cs)" != tsc ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
echo "clocksource $(cat $cs)"
exec /mcast-bench "$@"
