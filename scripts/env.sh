# Shared settings for the build scripts; sourced, not run.
# MCAST_UNIX_CACHE: where the kernel sources, the test kernel and tools live
# (outside the repository so a fresh clone reuses them).
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MCAST_UNIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcast_unix}
KVER_MM=6.12
FRAGMENT=$TOP/qemu/kernel.config
JOBS=${JOBS:-$(nproc)}
export PATH=$HOME/.cargo/bin:$PATH

# The kernel tarball Debian ships for $KVER_MM.
kernel_tarball() { ls /usr/src/linux-source-$KVER_MM.tar.* 2>/dev/null | head -n1; }

# Version of the packaged source, e.g. 6.12.117; empty when not installed.
kernel_version() {
  dpkg-query -W -f='${Version}' linux-source-$KVER_MM 2>/dev/null | sed 's/-.*//'
}

# Kernel variants: "test" (qemu/kernel.config: the debug kernel the VM tests
# run on), "perf" (plus qemu/kernel-perf.config: production-like, no debug
# options, no tracepoints) and "kcsan" (plus qemu/kernel-kcsan.config: KCSAN
# instead of KASAN, for make stress). Each variant's fragments, in the order
# they are merged (later lines win).
kernel_fragments() {
  case "${1:-test}" in
    test) echo "$FRAGMENT" ;;
    perf) echo "$FRAGMENT $TOP/qemu/kernel-perf.config" ;;
    kcsan) echo "$FRAGMENT $TOP/qemu/kernel-kcsan.config" ;;
    *) echo "unknown kernel variant $1" >&2; return 1 ;;
  esac
}

# Build directory of a kernel variant: keyed by version and fragment contents.
kernel_build_dir() {
  local variant=${1:-test} key suffix=""
  key=$(cat $(kernel_fragments "$variant") | sha256sum | cut -c1-12)
  [ "$variant" = test ] || suffix="-$variant"
  echo "$CACHE/kbuild-$(kernel_version)$suffix-$key"
}

# KDIR defaults to the test kernel; a user may point it at any 6.12+ tree built with CONFIG_RUST.
default_kdir() { kernel_build_dir; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
