# Shared by render.sh, measure.sh and docs-images.sh (sourced, not run).
# Sets: repo, loopc, chromium, bundle, flags; defines mmd_of and chrome_title.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
loopc=${LOOPC:-$target/debug/loopc}
chromium=${CHROMIUM:-chromium}
command -v "$chromium" >/dev/null || { echo "$0: no $chromium (apt-get install chromium)" >&2; exit 2; }
bundle=$repo/tests/mermaid/node_modules/mermaid/dist/mermaid.min.js
if [ ! -f "$bundle" ]; then
  (cd "$repo/tests/mermaid" && npm ci --no-audit --no-fund)
fi
# Offline and quiet; Mermaid renders asynchronously, so give the page
# virtual time before the DOM is dumped or the screenshot taken.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --hide-scrollbars --virtual-time-budget=20000)

# mmd_of SPEC|MMD OUT.mmd [loopc diagram flags...]: a .mmd is copied as it is,
# a spec is drawn by `loopc diagram` with the flags.
mmd_of() {
  local spec=$1 out=$2
  shift 2
  case $spec in
    *.mmd) cp "$spec" "$out" ;;
    *)
      [ -x "$loopc" ] || { echo "$0: no loopc at $loopc (cargo build, or set LOOPC)" >&2; exit 2; }
      "$loopc" diagram "$spec" "$@" -o "$out" 2>/dev/null
      ;;
  esac
}

# chrome_title PAGE.html WORK: load the page at 1400x1600 and print its
# title once Mermaid is done (`rendered W1xH1 …`); exits on a Mermaid error.
chrome_title() {
  local page=$1 work=$2 title
  "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --window-size=1400,1600 \
    --dump-dom "file://$page" >"$work/dom.html" 2>>"$work/chromium.log" || true
  title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$work/dom.html" | head -1)
  case $title in
    "rendered "*) echo "${title#rendered }" ;;
    *)
      echo "$0: mermaid did not render: $(grep -o 'MERMAID ERROR:[^<]*' "$work/dom.html" || echo "$title")" >&2
      exit 1
      ;;
  esac
}
