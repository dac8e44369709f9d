#!/usr/bin/env bash
# Render icons/sentinelone.svg to the PNG sizes declared in plugin.yaml (icons: 48, 128, 256).
# Needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin; macOS: brew install librsvg).
# The PNGs are committed: re-run this after editing the SVG, then `python -m runtime validate`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || {
    echo "render_icons: rsvg-convert not found; install librsvg2-bin (apt) or librsvg (brew)" >&2
    exit 1
}
for size in 48 128 256; do
    rsvg-convert --width "$size" --height "$size" --keep-aspect-ratio --format png \
        --output "icons/sentinelone-$size.png" icons/sentinelone.svg
    echo "icons/sentinelone-$size.png"
done
