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

# Build directory of the test kernel: keyed by version and fragment contents.
kernel_build_dir() {
  local key
  key=$(cat "$FRAGMENT" | sha256sum | cut -c1-12)
  echo "$CACHE/kbuild-$(kernel_version)-$key"
}

# KDIR defaults to the test kernel; a user may point it at any 6.12+ tree built with CONFIG_RUST.
default_kdir() { kernel_build_dir; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
