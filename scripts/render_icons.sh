#!/usr/bin/env bash
# Render icons/sentinelone.svg to the PNG sizes declared in plugin.yaml (icons: 48, 128, 256)
# and to QRadar SOAR's App Host logos (the icon centred in 200x72 and 100x100, transparent;
# plugin.yaml platforms.qradar_soar.logos).
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
for logo in app-logo:200:72 company-logo:100:100; do
    IFS=: read -r name width height <<<"$logo"
    rsvg-convert --width "$height" --height "$height" --keep-aspect-ratio --format png \
        --page-width "${width}px" --page-height "${height}px" --left "$(((width - height) / 2))px" \
        --output "icons/qradar-$name.png" icons/sentinelone.svg
    echo "icons/qradar-$name.png"
done
