# Shared by scripts/test and scripts/demo: install missing Debian packages, configure builds.
# Sourced, not run.

# Debian 12 packages the build and the tests need. Keep this the one list.
DIEMCAU_PACKAGES=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev python3 iproute2
  libglib2.0-dev libsrtp2-dev libssl-dev libopus-dev
  libnice-dev libsoup-3.0-dev libjson-glib-dev libsqlite3-dev glib-networking
  # the native endpoint (endpoint/): GStreamer's webrtcbin, SDP and app libraries
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  # real WebRTC peers for the integration and browser tests, and their test tones
  nodejs sox
  # the link lab (tests/link): offloads off on its veths, and Vietnamese speech to send
  ethtool espeak-ng
  chromium firefox-esr
  # the console's QR codes are read back with a real decoder; recordings by gst-discoverer
  zbar-tools gstreamer1.0-plugins-base-apps
  # points behind firewalls (turn-relay): a real TURN server, and nftables to block UDP
  coturn nftables
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-nice gstreamer1.0-x python3-gi gir1.2-gst-plugins-bad-1.0
)

say() { printf '%s\n' "$*" >&2; }

# Installs whatever in the list is missing; idempotent; works as root or through sudo.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "error: need root or sudo to install: ${missing[*]}"; return 1; }
    sudo=(sudo)
  fi
  say "Installing missing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null || { say "error: apt-get install failed for: ${missing[*]}"; return 1; }
  # coturn is here for one test, which starts its own in a namespace; Debian enables its
  # system service on install, which would leave a TURN server on every address of this
  # machine. A coturn that was here before is left as it was.
  if [[ " ${missing[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl disable --now coturn >/dev/null 2>&1 && say "Stopped and disabled coturn's system service (the tests start their own)."
  fi
}

# configure DIR [meson options...]: sets up DIR once; later runs reuse it (ninja re-runs meson
# itself when a meson.build changes).
configure() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
  fi
}

# The browser tests' one npm dependency (playwright-core, which drives Debian's chromium and
# downloads no browser), installed from the committed lock file when missing.
ensure_browser_deps() {
  command -v npm >/dev/null || ensure_packages npm || return 1
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "Installing playwright-core for the browser tests (npm ci)"
    npm ci --prefix tests/browser --no-audit --no-fund >/dev/null ||
      { say "error: npm ci failed in tests/browser"; return 1; }
  fi
}

build_normal() {
  configure build/normal && ninja -C build/normal >build/normal.build.log 2>&1 ||
    { tail -n 40 build/normal.build.log >&2; return 1; }
}
