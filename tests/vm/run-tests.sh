#!/bin/sh
# Inside the VM: the userspace suites, each printing TAP. (KUnit already ran
# when the module was loaded.)
rc=0
/mcast-tests || rc=1
exit $rc
