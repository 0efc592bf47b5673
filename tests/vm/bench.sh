#!/bin/sh
# Inside the VM: what `make bench` runs: the comparison and ratios
# (mcast-bench), then the D-Bus benchmark (mcast-dbus-bench) when the
# daemons were added (qemu/run --add-tree build/dbus-tree). Arguments go to
# mcast-bench (e.g. --quick, which the D-Bus benchmark takes too), except
# --no-dbus (skip the D-Bus benchmark) and --dbus-only (only it). Only
# ratios within this one run mean anything: the VM's clock runs under
# emulation.
dbus=1 others=1 quick=""
for a in "$@"; do
  shift
  case "$a" in
    --no-dbus) dbus="" ;;
    --dbus-only) others="" ;;
    *) [ "$a" = --quick ] && quick=--quick; set -- "$@" "$a" ;;
  esac
done
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
if [ -n "$others" ]; then
  /mcast-bench "$@" || exit $?
fi
[ -n "$dbus" ] || exit 0
if [ ! -x /usr/bin/dbus-daemon ] || [ ! -x /usr/bin/dbus-broker ]; then
  echo "bench.sh: no dbus-daemon or dbus-broker in the VM (qemu/run --add-tree build/dbus-tree): D-Bus benchmark skipped"
  exit 0
fi
# dbus-daemon and dbus-broker advertise the machine's id.
[ -s /etc/machine-id ] || tr -d - < /proc/sys/kernel/random/uuid > /etc/machine-id
exec /mcast-dbus-bench $quick
