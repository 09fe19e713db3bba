#!/usr/bin/env bash
# Installs the Windows package into a fresh Wine prefix and checks it as a person would: a silent
# install (files, Start menu shortcut, "Apps & features" entry), `aetheria.exe --version`,
# `doctor` (which must explain the missing Docker engine on Windows and give fixes), `data path`
# (the Windows folders), a headless `ask` against the loopback model server with its key from the
# environment, the login item (`service install`, its Startup script run, `service uninstall`),
# then a silent uninstall that keeps the person's data, and one with /DELETEAPPDATA that does not. In between it opens the window under Xvfb (wgpu's Vulkan path, through Wine's
# winevulkan to Mesa's software Vulkan) and saves a screenshot of it. Prints the figures the README
# quotes: installer size, install time, --version time.
# Needs the packages of installer/debian/windows-packages.txt.
#   installer/test-windows.sh [--profile dev|release]   builds the installer (build-windows.sh)
#   installer/test-windows.sh --installer SETUP.exe     tests one already built
# AETHERIA_WINE_SHOTS=DIR keeps the window's screenshot there.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE=release
installer=""
case "${1:-}" in
  --profile) PROFILE=$2 ;;
  --installer) installer=$(realpath "$2") ;;
  "") ;;
  *) sed -n '11,13p' "$0" >&2; exit 2 ;;
esac
say() { printf '\033[1m[windows test]\033[0m %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
WORK=$(mktemp -d)
PIDS=()
# Console programs and silent installers need no display: Wine runs them headless.
unset DISPLAY WAYLAND_DISPLAY
export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko download prompts (nothing here uses .NET or the HTML engine).
export WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wineserver -k 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$installer" ] || installer=$(installer/build-windows.sh --profile "$PROFILE" --out "$WORK/out")
size_mb=$(du -m "$installer" | cut -f1)
say "installer: $(basename "$installer"), ${size_mb} MB"

# The scripted model server on the host's loopback, which Wine's programs share; each start plays
# a fresh conversation and logs the Authorization headers it got when stopped (SIGINT).
target="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
[ -x "$target/debug/examples/loopback_provider" ] \
  || cargo build --locked -q -p aetheria-engine --features testkit --example loopback_provider
start_provider() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$target/debug/examples/loopback_provider" "127.0.0.1:$PORT" >"$WORK/provider-$1.log" 2>&1 &
  provider=$!
  PIDS+=("$provider")
  for _ in $(seq 1 40); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.25; done
}
# Stops the server and checks every request it served carried the key $1.
expect_key() {
  kill -INT "$provider"; wait "$provider" || true
  grep -q "authorization: Bearer $1" "$WORK/provider-$2.log" || { cat "$WORK/provider-$2.log"; fail "the key ($2) was not sent"; }
  if grep -v "authorization: Bearer $1" "$WORK/provider-$2.log" | grep -q "^authorization:"; then
    fail "a request went without the key ($2)"
  fi
}

say "a fresh Wine prefix"
start=$(date +%s%N)
wine wineboot --init >"$WORK/wineboot.log" 2>&1 || { tail -20 "$WORK/wineboot.log"; fail "wineboot"; }
wineserver -w
say "prefix ready in $(ms_since "$start") ms"
# Wine 8 (Debian 12's) lacks bcryptprimitives.dll, which Rust's standard library needs on Windows
# 10+ and Wine 9 has: a stand-in goes into this test prefix only (read the file for why).
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -e "$system32/bcryptprimitives.dll" ]; then
  say "this Wine lacks bcryptprimitives.dll: the test prefix gets installer/windows/wine-bcryptprimitives.c"
  x86_64-w64-mingw32-gcc-posix -shared -O2 -o "$system32/bcryptprimitives.dll" \
    installer/windows/wine-bcryptprimitives.c -ladvapi32
fi
# Wine's Windows paths of this user's folders, as Unix paths.
user_dir="$WINEPREFIX/drive_c/users/$(id -un)"
install_dir="$user_dir/AppData/Local/Programs/Aetheria"
data_dir="$user_dir/AppData/Roaming/Aetheria/aetheria"
key='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\dev.aetheria.Aetheria'

install() {
  local start
  start=$(date +%s%N)
  wine "$installer" /S >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "the silent install"; }
  wineserver -w
  say "installed in $(ms_since "$start") ms"
  [ -f "$install_dir/aetheria.exe" ] || fail "no aetheria.exe in $install_dir: $(ls -R "$user_dir/AppData/Local" | head -20)"
  [ -f "$install_dir/uninstall.exe" ] || fail "no uninstaller"
  [ -f "$install_dir/sandbox/packages.txt" ] || fail "the sandbox recipe is not shipped"
  [ -f "$user_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Aetheria.lnk" ] || fail "no Start menu shortcut"
  wine reg query "$key" /v DisplayVersion 2>/dev/null | tr -d '\r' | grep -q "$version" \
    || fail "no Apps & features entry with version $version"
}

uninstall() {
  # The uninstaller copies itself to a temporary folder and returns at once: wait for Wine.
  wine "$install_dir/uninstall.exe" /S "$@" >"$WORK/uninstall.log" 2>&1 || { cat "$WORK/uninstall.log"; fail "the silent uninstall"; }
  wineserver -w
  [ ! -e "$install_dir/aetheria.exe" ] || fail "aetheria.exe is still there after uninstalling"
  [ ! -e "$install_dir" ] || fail "the install folder is left behind: $(ls -R "$install_dir")"
  [ ! -e "$user_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Aetheria.lnk" ] || fail "the shortcut is left behind"
  if wine reg query "$key" >/dev/null 2>&1; then fail "the Apps & features entry is left behind"; fi
}

# Waits until `doctor` says an `aetheria serve` hosts the data folder on a named pipe ($1: when).
hosted_by_serve() {
  hosted=""
  for _ in $(seq 1 120); do
    hosted=$(wine "$exe" doctor 2>&1 | tr -d '\r' | grep '^\[ok  \] host' || true)
    echo "$hosted" | grep -q 'serve (pid' && break
    sleep 1
  done
  echo "$hosted" | grep -qF 'on \\.\pipe\aetheria-' || fail "no host on a named pipe $1: $hosted"
}

say "installing silently"
install
exe="$install_dir/aetheria.exe"

wine "$exe" --version 2>&1 | tr -d '\r' | grep -q "aetheria $version" || fail "--version: $(wine "$exe" --version 2>&1)"
start=$(date +%s%N); wine "$exe" --version >/dev/null 2>&1
say "aetheria.exe --version under Wine: $(ms_since "$start") ms (Wine already started)"

doctor=$(wine "$exe" doctor 2>&1 | tr -d '\r' || true)
printf '%s\n' "$doctor" >&2
echo "$doctor" | grep -qi "docker" || fail "doctor does not explain Docker"
echo "$doctor" | grep -qi "fix:" || fail "doctor gives no fix"
if echo "$doctor" | grep -qiE "panicked|RUST_BACKTRACE"; then fail "doctor crashed"; fi
if echo "$doctor" | grep -nE "sudo |apt-get|apt install|systemctl"; then fail "doctor gives Linux advice on Windows"; fi

paths=$(wine "$exe" data path 2>&1 | tr -d '\r')
echo "$paths" | grep -qi 'C:\\users\\.*\\AppData\\Roaming\\Aetheria\\aetheria' || fail "data path is not the Windows folder: $paths"

ask() {
  local answer
  answer=$(wine "$exe" ask --base-url "http://127.0.0.1:$PORT/v1" --model demo "What is in my workspace?" 2>"$WORK/ask.log" | tr -d '\r') \
    || { cat "$WORK/ask.log"; fail "aetheria.exe ask"; }
  echo "$answer" | grep -q "Your workspace" || { cat "$WORK/ask.log"; fail "the answer did not arrive: $answer"; }
}
start_provider env
KEY="sk-wine-env-$RANDOM$RANDOM"
AETHERIA_API_KEY="$KEY" ask
expect_key "$KEY" env
wine "$exe" sessions list 2>&1 | tr -d '\r' | grep -q "What is in my workspace?" || fail "the session was not stored"
[ -d "$data_dir" ] || fail "no data in $data_dir"
say "--version, doctor, data path and a headless ask with the key from the environment work"

# The keychain: Wine's own Credential Manager (advapi32's Cred* calls, kept in its registry).
start_provider keychain
KEY="sk-wine-keychain-$RANDOM$RANDOM"
printf '%s\n' "$KEY" | wine "$exe" auth set custom >"$WORK/auth.log" 2>&1 || { cat "$WORK/auth.log"; fail "auth set"; }
wine "$exe" auth status custom 2>&1 | tr -d '\r' | grep -q "a key is stored" || fail "auth status does not see the stored key"
ask
expect_key "$KEY" keychain
say "a key stored with \`auth set\` goes through the Credential Manager and is sent"

# The window: Wine draws it on a virtual display. wgpu would pick Direct3D 12 first, whose shader
# compiler (D3DCompile) Wine 8 lacks, so the Vulkan path is asked for: the same iced and wgpu code
# above the graphics API a Windows machine runs.
say "opening the window under Xvfb"
# Xvfb picks a free display and writes its number.
Xvfb -displayfd 3 -screen 0 1280x800x24 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 120); do [ -s "$WORK/display" ] && break; sleep 0.25; done
[ -s "$WORK/display" ] || { cat "$WORK/xvfb.log"; fail "Xvfb did not start"; }
display=":$(head -n1 "$WORK/display")"
# Wine's desktop process picked "no display" when it started headless: a new Wine session.
wineserver -k 2>/dev/null || true
wineserver -w 2>/dev/null || true
(DISPLAY=$display WGPU_BACKEND=vulkan wine "$exe" >"$WORK/window.log" 2>&1) & PIDS+=($!)
app=$!
disown "$app"   # ended by `wineserver -k` below, which bash would otherwise report as "Killed"
shot="$WORK/windows-wine.png"
spread=0
# Until the window has drawn itself (its first frame compiles shaders on a software GPU).
for _ in $(seq 1 360); do
  kill -0 "$app" 2>/dev/null || { grep -v '^ ' "$WORK/window.log" | tail -20; fail "the window's process exited"; }
  if DISPLAY=$display xdotool search --name 'Aetheria' >/dev/null 2>&1; then
    DISPLAY=$display import -window root "$shot"
    spread=$(convert "$shot" -colorspace gray -format '%[fx:standard_deviation]' info:)
    awk -v s="$spread" 'BEGIN { exit !(s > 0.05) }' && break
  fi
  sleep 0.5
done
awk -v s="$spread" 'BEGIN { exit !(s > 0.05) }' || fail "the window did not draw (screenshot deviation $spread)"
sleep 3
kill -0 "$app" 2>/dev/null || fail "the window's process exited after drawing"
# The window started `aetheria serve` to host its data folder on a named pipe: commands run beside
# the window as its clients.
hosted_by_serve "beside the window"
wine "$exe" sessions list 2>&1 | tr -d '\r' | grep -q "What is in my workspace?" \
  || fail "sessions list beside the window: $(wine "$exe" sessions list 2>&1)"
say "beside the window: $hosted; sessions list works through the pipe"
if [ -n "${AETHERIA_WINE_SHOTS:-}" ]; then
  mkdir -p "$AETHERIA_WINE_SHOTS" && DISPLAY=$display import -window root "$AETHERIA_WINE_SHOTS/windows-wine.png"
  say "saved $AETHERIA_WINE_SHOTS/windows-wine.png"
fi
wineserver -k; wineserver -w 2>/dev/null || true
say "the window opens and draws"

# The login item: `service install` puts a script in the Startup folder, which Windows runs at
# every login, and starts the engine now; the script, run as a login runs it, starts it again;
# `service uninstall` takes it away.
# (Wine names the folder StartUp; Windows' file names ignore case.)
programs="$user_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs"
startup="$(find "$programs" -maxdepth 1 -iname startup | head -n1)/Aetheria engine.cmd"
wine "$exe" service install >"$WORK/service.log" 2>&1 || { cat "$WORK/service.log"; fail "service install"; }
[ -f "$startup" ] || fail "no login item in the Startup folder: $(cat "$WORK/service.log")"
grep -qF 'aetheria.exe" serve' "$startup" || fail "the Startup script does not start serve: $(cat "$startup")"
hosted_by_serve "after service install"
wine "$exe" service status 2>&1 | tr -d '\r' | grep -q '^installed: .*Startup' || fail "service status: $(wine "$exe" service status 2>&1)"
wineserver -k; wineserver -w 2>/dev/null || true
wine cmd /c "$(winepath -w "$startup" 2>/dev/null)" >"$WORK/startup.log" 2>&1 || { cat "$WORK/startup.log"; fail "the Startup script"; }
hosted_by_serve "after the Startup script ran"
wine "$exe" sessions list 2>&1 | tr -d '\r' | grep -q "What is in my workspace?" || fail "sessions list through the login item's engine"
wine "$exe" service uninstall >"$WORK/service.log" 2>&1 || { cat "$WORK/service.log"; fail "service uninstall"; }
[ ! -e "$startup" ] || fail "service uninstall left the Startup script"
# Left installed, it goes with the package (the uninstaller below checks).
wine "$exe" service install >"$WORK/service.log" 2>&1 || { cat "$WORK/service.log"; fail "service install"; }
wineserver -k; wineserver -w 2>/dev/null || true
say "the login item: written to the Startup folder, starts the engine, and is taken away again"

say "uninstalling silently: the person's data stays, the login item goes"
uninstall
[ ! -e "$startup" ] || fail "the uninstaller left the login item in the Startup folder"
[ -d "$data_dir" ] || fail "a silent uninstall took the person's data"

say "installing again, then uninstalling with /DELETEAPPDATA"
install
wine "$exe" sessions list 2>&1 | tr -d '\r' | grep -q "What is in my workspace?" || fail "the reinstalled app lost the session"
uninstall /DELETEAPPDATA
[ ! -e "$data_dir" ] || fail "/DELETEAPPDATA left the data: $(ls "$data_dir")"
say "the Windows package installs, runs, uninstalls keeping the data, and deletes it only when asked"
