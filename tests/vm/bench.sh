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
# The kernel switches to the TSC clocksource some seconds after boot;
# before that every clock read is an emulated HPET access, far slower than
# the rest, so the first measurements would be off. Wait for it (at most
# 30 s: a host without a usable TSC keeps what it has).
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
i=0
while [ "$(cat $cs)" != tsc ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
echo "clocksource $(cat $cs)"
exec /mcast-bench "$@"
