#!/bin/sh
# Inside the VM: what `make demo` shows.
say() { printf '\n== %s\n' "$*"; }

say "the module is loaded and registered its family"
grep '^mcast_unix ' /proc/modules
echo "family parameter: $(cat /sys/module/mcast_unix/parameters/family)"
dmesg | grep 'mcast_unix: registered' | sed 's/^\[[^]]*\] //'
dmesg | grep -E '# (mcast_unix|Totals):' | sed 's/^\[[^]]*\] //' | head -n 1

say "a datagram group: one publisher, three subscribers (mcastctl)"
/mcastctl create --duration 30 @demo-signals &
owner=$!
/mcastctl wait @demo-signals
for who in alice bob carol; do /mcastctl join --count 3 --label "$who" @demo-signals & done
/mcastctl wait --members 3 @demo-signals
/mcastctl stat
/mcastctl send @demo-signals NameOwnerChanged PropertiesChanged InterfacesAdded
wait %2 %3 %4 2>/dev/null; sleep 1
/mcastctl stat --groups

say "sender identity and credentials, stamped by the kernel"
/mcastctl recv --count 1 --creds --sender-id @demo-inbox &
inbox=$!
until /mcastctl stat --raw | grep -q ' @demo-inbox '; do sleep 1; done
/mcastctl send @demo-inbox 'who am I?'
wait $inbox

say "a seqpacket group: the owner admits by uid (SO_PEERCRED) and sees copies"
/mcastctl create --seqpacket --allow-uid 0 --send-to-peer --duration 20 @demo-room &
room=$!
/mcastctl wait @demo-room
/mcastctl join --seqpacket --count 1 --label dave @demo-room &
dave=$!
/mcastctl wait --members 1 @demo-room
/mcastctl send --seqpacket @demo-room 'hello, room'
wait $dave; sleep 1
/mcastctl watch --count 1 --groups | cat   # not a terminal: no screen clearing
kill $room 2>/dev/null

say "topic filters in the kernel (Rust client library: examples/bus.rs)"
/bus-example

say "receive rings: members reading mapped frames, no system call per message (examples/ring_demo.rs)"
/ring-demo || status=1

out=$(mktemp -d)   # the VM's own scratch space
say "the documentation's C examples"
ok=0 all=0 failed=""
for ex in /example-*; do
  all=$((all + 1))
  if "$ex" > $out/example.out 2>&1 && grep -q '^ok' $out/example.out; then ok=$((ok + 1)); else failed="$failed ${ex#/}"; fi
done
echo "$ok of $all ok (unicast, datagram group, seqpacket group, filters, sender identity; 64- and 32-bit)${failed:+; failed:$failed}"
kill $owner 2>/dev/null

# The main act: the bus (Documentation/bus.md).
banner() { printf '\n%s\n' "$rule"; printf '== %s\n' "$@"; printf '%s\n' "$rule"; }
rule================================================================================
banner "THE BUS: D-Bus messages go from client to client through the kernel;" \
  "the daemon only admits clients and installs their filters"
run() { printf '$ %s\n' "$*"; "$@"; }
status=${status:-0}
echo '$ mcastctl bus @demo-bus & bus=$!'
/mcastctl bus --quiet --duration 300 @demo-bus > $out/bus.out &
busd=$!
n=0
until /mcastctl call --bus @demo-bus org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId > /dev/null 2>&1 || [ $n -ge 50 ]; do
  sleep 0.2; n=$((n + 1))
done
echo "\$ mcastctl monitor --bus @demo-bus -n 2 \"member='Add'\" \"interface='org.example.Alerts'\" &"
/mcastctl monitor --bus @demo-bus -n 2 "member='Add'" "interface='org.example.Alerts'" > $out/monitor.out 2> $out/monitor.err &
mon=$!
n=0
until grep -q watching $out/monitor.err || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
run /bus-demo @demo-bus || status=1
run /mcastctl emit --bus @demo-bus /org/example/Alerts org.example.Alerts Storm s:Oslo || status=1
wait $mon || status=1
echo "(the monitor printed:)"
sed 's/^/  /' $out/monitor.out
echo '$ kill -TERM $bus    # the daemon stops and prints its counters'
kill -TERM $busd
wait $busd || status=1
sed 's/^/  /' $out/bus.out
grep -q 'data messages received by the daemon 0;' $out/bus.out || status=1
exit $status
