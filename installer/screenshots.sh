#!/usr/bin/env bash
# Runs the app in a real window under Xvfb against the scripted loopback provider, drives it like a
# person with xdotool, and saves screenshots: main (light), approval prompt, settings, the sandbox
# tab with a real code run (when a sandbox is available), dictation held on Ctrl+Space (a WAV of
# espeak-ng speech stands in for the microphone; the real tiny.en model transcribes), a prompt
# scheduled in the Jobs tab, the command palette, main (dark) and the palette in the dark theme;
# an image pasted into the chat, the settings' MCP servers with the real notes server (both
# themes); the agent's browser in the BROWSER tab, live and taken over; then a fresh install's welcome with the models hub downloading from a loopback mirror
# (both themes).
# Fails when the app crashes or a screenshot is blank. Usage: installer/screenshots.sh [OUT_DIR]
# AETHERIA_SCREENSHOT_PROFILE=release (what .ci/run uses) shoots the release build, made exactly as
# the packages make it (installer/release-env.sh), so installer/test-packages.sh reuses it;
# AETHERIA_SCREENSHOT_PROFILE=dev shoots the debug build the tests made (quicker while working).
# Needs: xvfb openbox xdotool xclip imagemagick dbus gnome-keyring (installer/debian/test-packages.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
OUT="$(mkdir -p "${1:-$CARGO_TARGET_DIR/screenshots}" && cd "${1:-$CARGO_TARGET_DIR/screenshots}" && pwd)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

PROFILE="${AETHERIA_SCREENSHOT_PROFILE:-release}"
# The scripted model server comes from the test build (a test tool, not part of the app): the same
# selection of packages and features as the test run, so its build is reused as is.
cargo build --locked -q --workspace --all-features --bins --tests --examples
PROVIDER="$CARGO_TARGET_DIR/debug/examples/loopback_provider"
if [ "$PROFILE" = dev ]; then
  BIN="$CARGO_TARGET_DIR/debug/aetheria"
else
  BIN=$(
    # shellcheck source=installer/release-env.sh
    . installer/release-env.sh
    cargo build --locked -q --profile "$PROFILE" -p aetheria >&2
    echo "$CARGO_TARGET_DIR/$PROFILE/aetheria"
  )
fi
echo "shooting $BIN" >&2

export DISPLAY="${AETHERIA_SCREENSHOT_DISPLAY:-:97}"
Xvfb "$DISPLAY" -screen 0 1280x800x24 >"$WORK/xvfb.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 40); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.25; done
openbox >"$WORK/openbox.log" 2>&1 & PIDS+=($!)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PROVIDER" "127.0.0.1:$PORT" >"$WORK/provider.log" 2>&1 & PIDS+=($!)

mkdir -p "$WORK/config" "$WORK/data" "$WORK/ws/notes" "$WORK/keyrings"
echo "# Demo project" >"$WORK/ws/README.md"
echo "- buy milk" >"$WORK/ws/notes/todo.md"
cat >"$WORK/config/config.toml" <<TOML
workspace_roots = ["$WORK/ws"]

[[providers]]
name = "demo"
wire = "openai"
base_url = "http://127.0.0.1:$PORT/v1"
model = "scripted-demo"

vision = true

[tools.policy]
run_code = "allow"
TOML
# The MCP page: the real notes server (the MCP SDK's venv the tests use).
MCP_PYTHON="${AETHERIA_TEST_MCP_PYTHON:-$HOME/.cache/aetheria/mcp-venv/bin/python}"
MCP=""
if [ -x "$MCP_PYTHON" ]; then
  cat >>"$WORK/config/config.toml" <<TOML

[mcp.notes]
command = "$MCP_PYTHON"
args = ["$ROOT/engine/tests/fixtures/mcp/notes_server.py", "stdio"]
TOML
  MCP=1
elif [ "${CI:-}" = true ]; then
  echo "the MCP page needs the MCP SDK's venv (installer/dev.sh test)"; exit 1
fi
# Dictation: the test model and a sentence spoken by espeak-ng, played as the microphone.
MODELS="${AETHERIA_TEST_MODELS:-$HOME/.cache/aetheria/test-models}"
DICTATE=""
if [ -f "$MODELS/ggml-tiny.en.bin" ] && command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
  espeak-ng -w "$WORK/raw.wav" "Open the Read Me file and summarize it."
  sox "$WORK/raw.wav" -r 44100 -c 2 -b 16 "$WORK/dictation.wav"
  cat >>"$WORK/config/config.toml" <<TOML

[voice]
model = "$MODELS/ggml-tiny.en.bin"
input_device = "wav:$WORK/dictation.wav"
cues = false
threads = 1
TOML
  DICTATE=1
elif [ "${CI:-}" = true ]; then
  echo "dictation needs the test model, espeak-ng and sox (installer/dev.sh test)"; exit 1
fi
# The sandbox's unprivileged user writes the workspace, as it would a person's own folder.
if [ "$(id -u)" = 0 ]; then chmod 755 "$WORK"; chown -R 1000:1000 "$WORK/ws"; fi

# Starts the app on a config folder and a data folder, in a D-Bus session with an unlocked
# keyring of its own, logging to a file; APP is its process.
launch() {
  AETHERIA_CONFIG_DIR="$1" AETHERIA_DATA_DIR="$2" \
    dbus-run-session -- bash -c 'printf x | env -u DISPLAY XDG_DATA_HOME="$0" gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null; exec "$1"' \
    "$WORK/keyrings" "$BIN" >"$3" 2>&1 & PIDS+=($!)
  APP=$!
}
# Quits the window as a logout would (SIGTERM); it must be gone within 20 s. Leaves its pid in pid.
quit_window() {
  pid=$(xdotool getwindowpid "$WIN")
  kill -TERM "$pid"
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then echo "the app did not exit within 20 s of SIGTERM"; exit 1; fi
}
launch "$WORK/config" "$WORK/data" "$WORK/app.log"

alive() { kill -0 "$APP" 2>/dev/null || { echo "the app exited:"; tail -30 "$WORK/app.log"; exit 1; }; }
shot() {
  sleep "${2:-1.5}"
  alive
  import -window root "$OUT/$1.png"
  local spread
  spread=$(convert "$OUT/$1.png" -colorspace gray -format '%[fx:standard_deviation]' info:)
  awk -v s="$spread" 'BEGIN { exit !(s > 0.05) }' || { echo "$1.png is blank (deviation $spread)"; exit 1; }
  echo "saved $OUT/$1.png"
}

WIN=$(xdotool search --sync --name Aetheria | head -1)
xdotool windowactivate --sync "$WIN"
sleep 2
composer() { xdotool mousemove 580 720 click 1; sleep 0.2; xdotool type --delay 15 "$1"; xdotool key Return; }

composer "What is in my workspace?"
shot main-light 3
composer "Write the summary"
shot approval 2
xdotool key Return          # allow once
sleep 1.5
xdotool key ctrl+comma
shot settings 2
xdotool key Escape
if AETHERIA_CONFIG_DIR="$WORK/probe" AETHERIA_DATA_DIR="$WORK/probe" "$BIN" sandbox status >/dev/null 2>&1; then
  composer "Square some numbers"
  sleep 2
  # The SANDBOX tab, through the command palette.
  xdotool key ctrl+shift+p
  sleep 0.5
  xdotool type --delay 20 "show the sandbox"
  xdotool key Return
  shot sandbox 2
  [ -f "$WORK/ws/squares.txt" ] || { echo "the sandbox run did not write squares.txt"; tail -20 "$WORK/app.log"; exit 1; }
elif [ "${CI:-}" = true ]; then
  echo "no sandbox is available for the screenshot run"; exit 1
fi
if [ -n "$DICTATE" ]; then
  # Hold the push-to-talk key over the composer while the "microphone" speaks, then let go.
  xdotool mousemove 580 720 click 1
  sleep 0.3
  xdotool keydown ctrl+space
  shot dictating 1.5
  sleep 1.5
  xdotool keyup space ctrl
  # whisper takes ~1.2 s for this sentence in a release build and ~1.9 s in a dev build (`aetheria
  # voice transcribe`), whose window also redraws slower meanwhile.
  shot dictated "$([ "$PROFILE" = dev ] && echo 7 || echo 2.5)"
  xdotool key Return
  sleep 2
fi
# The Jobs tab through the command palette, and a prompt scheduled there (its fields sit at fixed
# places in the right panel of this 1280×800 screen); the engine must have it.
xdotool key ctrl+shift+p
sleep 0.5
xdotool type --delay 20 "jobs"
xdotool key Return
sleep 1
xdotool mousemove 1080 254 click 1
sleep 0.3
xdotool type --delay 15 "0 9 * * 1-5"
xdotool mousemove 1035 291 click 1
sleep 0.3
xdotool type --delay 15 "Summarise my inbox"
xdotool key Return
shot schedules 2
AETHERIA_CONFIG_DIR="$WORK/config" AETHERIA_DATA_DIR="$WORK/data" "$BIN" jobs schedules 2>&1 \
  | grep -q "0 9 \* \* 1-5 .*Summarise my inbox" \
  || { echo "the schedule made in the window is not in the engine"; tail -20 "$WORK/app.log"; exit 1; }
xdotool key ctrl+shift+p
sleep 0.5
xdotool type --delay 20 "conv"
shot palette 1.5
xdotool key Escape
# An image copied elsewhere, pasted into the composer with Ctrl+V and sent: its thumbnail in the chat.
convert -size 480x300 gradient:orange-purple -fill white -pointsize 40 -gravity center \
  -annotate 0 "pasted" "$WORK/picture.png"
xclip -selection clipboard -t image/png -i "$WORK/picture.png"
xdotool key ctrl+n       # a new chat, so the picture and the answer fit on the screen
sleep 0.5
xdotool mousemove 580 720 click 1
sleep 0.3
xdotool key ctrl+v
sleep 1
xdotool type --delay 15 "What is in this picture?"
xdotool key Return
# The demo model's script may ask to write a file next: that is denied (Esc answers the prompt).
sleep 3
xdotool key Escape
shot image-chat 3
# A page of the settings, by its tab (the tabs sit at fixed places down the settings' left side).
settings_page() {
  xdotool key ctrl+comma
  sleep 1.5
  xdotool mousemove 380 "$2" click 1
  shot "$1" 1.5
  xdotool key Escape
  sleep 0.5
}
if [ -n "$MCP" ]; then settings_page settings-mcp "${MCP_TAB_Y:-246}"; fi
settings_page settings-accounts "${ACCOUNTS_TAB_Y:-281}"
xdotool key ctrl+shift+d
shot main-dark 1.5
if [ -n "$MCP" ]; then settings_page settings-mcp-dark "${MCP_TAB_Y:-246}"; fi
xdotool key ctrl+shift+p
sleep 0.5
xdotool type --delay 20 "export"
shot palette-dark 1.5
xdotool key Escape
alive
# Quit as a logout would (SIGTERM): the app must stop its engine, remove its sandboxes and exit.
quit_window
left=$(docker ps -aq --filter "label=io.aetheria.owner=$(cat /proc/sys/kernel/hostname)/$pid" 2>/dev/null || true)
if [ -n "$left" ]; then echo "the app left sandbox containers behind: $left"; exit 1; fi
if [ -n "$DICTATE" ]; then
  # What was dictated was sent and stored: find it in the history.
  found=$(AETHERIA_CONFIG_DIR="$WORK/config" AETHERIA_DATA_DIR="$WORK/data" "$BIN" search "summarize" --json 2>/dev/null || true)
  echo "$found" | grep -qi "read me file" || { echo "the dictated message was not sent: $found"; tail -20 "$WORK/app.log"; exit 1; }
  echo "dictation: the held key's words were sent"
fi

# The agent's browser: a demo site on loopback, opened and clicked through by the scripted model;
# the BROWSER tab shows it live, then taken over by the person. Its Chromium must end with the
# engine (which outlives the window by its idle time).
SITE="$WORK/site"
mkdir -p "$SITE" "$WORK/browse/config" "$WORK/browse/data"
cat >"$SITE/index.html" <<'HTML'
<!doctype html><title>Acme plans</title>
<style>body{font:18px sans-serif;margin:40px;background:#fffbe6}.plan{display:inline-block;border:3px solid #111;padding:16px 28px;margin:12px;box-shadow:6px 6px 0 #111;background:#fff}</style>
<h1>Acme plans</h1>
<div class=plan><h2>Free</h2><p>$0</p><a href="free.html">Free</a></div>
<div class=plan><h2>Pro</h2><p>$12 / month</p><a href="pro.html">Pro</a></div>
HTML
cat >"$SITE/pro.html" <<'HTML'
<!doctype html><title>Acme Pro</title>
<style>body{font:18px sans-serif;margin:40px;background:#e6f7ff}input,button{font-size:18px;padding:8px;border:3px solid #111}</style>
<h1>Pro plan</h1><p>$12 a month, billed yearly. Unlimited projects.</p>
<form><label>Email <input name=email></label> <button>Start trial</button></form>
HTML
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$SPORT" --bind 127.0.0.1 --directory "$SITE" >"$WORK/site.log" 2>&1 & PIDS+=($!)
BPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PROVIDER" "127.0.0.1:$BPORT" browse "http://127.0.0.1:$SPORT/" >"$WORK/provider-browse.log" 2>&1 & PIDS+=($!)
cat >"$WORK/browse/config/config.toml" <<TOML
[[providers]]
name = "demo"
wire = "openai"
base_url = "http://127.0.0.1:$BPORT/v1"
model = "scripted-demo"

[web]
private_hosts = ["127.0.0.1:$SPORT"]

[tools.policy]
browser_open = "allow"
browser_click = "allow"
TOML
launch "$WORK/browse/config" "$WORK/browse/data" "$WORK/app-browse.log"
WIN=$(xdotool search --sync --name Aetheria | head -1)
xdotool windowactivate --sync "$WIN"
sleep 2
composer "What does the Pro plan cost?"
# Chromium starts, opens the page and clicks through (a few seconds on a busy machine).
for _ in $(seq 1 60); do grep -q '"GET /pro.html' "$WORK/site.log" && break; sleep 0.5; done
grep -q '"GET /pro.html' "$WORK/site.log" || { echo "the agent's browser never reached the page"; tail -20 "$WORK/app-browse.log"; exit 1; }
xdotool key ctrl+shift+p
sleep 0.5
xdotool type --delay 20 "browser"
xdotool key Return
shot browser-tab 3
# TAKE OVER, under the frame at the right of the widened panel.
xdotool mousemove "${TAKE_OVER_X:-1165}" "${TAKE_OVER_Y:-422}" click 1
shot browser-takeover 2
alive
quit_window
# The engine's host outlives the window by its idle time (15 s), then stops, and its browsers with it.
for _ in $(seq 1 160); do pgrep -f "proxy-server=http://127.0.0.1" >/dev/null || break; sleep 0.25; done
if pgrep -f "proxy-server=http://127.0.0.1" >/dev/null; then
  echo "the agent's Chromium outlived the app and its engine:"; pgrep -af "proxy-server=http://127.0.0.1"; exit 1
fi

# A fresh install's welcome: the models hub comes first, and shows a catalogue download in progress
# from a loopback mirror (the test model, served at 2 MiB/s).
FRESH="$WORK/fresh"
mkdir -p "$FRESH/config" "$FRESH/data"
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$MODELS" "$MPORT" >"$WORK/mirror.log" 2>&1 <<'PY' & PIDS+=($!)
import http.server, os, sys, time
folder, port = sys.argv[1], int(sys.argv[2])
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(folder, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        with open(path, "rb") as f:
            while block := f.read(256 << 10):
                self.wfile.write(block)
                time.sleep(0.125)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Slow).serve_forever()
PY
cat >"$FRESH/config/config.toml" <<TOML
[local]
mirror = "http://127.0.0.1:$MPORT"
TOML
launch "$FRESH/config" "$FRESH/data" "$WORK/app-fresh.log"
WIN=$(xdotool search --sync --name Aetheria | head -1)
xdotool windowactivate --sync "$WIN"
sleep 2
# The first catalogue entry's Download button, at its fixed place on the welcome of this screen.
xdotool mousemove 919 345 click 1
shot models-hub 5
compgen -G "$FRESH/data/models/.smollm2-135m-instruct.partial" >/dev/null \
  || { echo "no download under way for the models hub shot"; tail -20 "$WORK/app-fresh.log"; exit 1; }
xdotool key ctrl+shift+d
shot models-hub-dark 1.5
echo "screenshots in $OUT"
