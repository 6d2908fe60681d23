#!/usr/bin/env bash
# The nightly job of a lab rig: build athil, run the shipped scenarios (or those given) against
# the module the rig file describes, and leave JUnit, transcripts and pcaps for the CI server.
# (.ci/run is athil's own test suite; this script is what a lab runs with it.)
#
#   ATHIL_RIG=fixtures/rigs/esp8266-usb.yaml ATHIL_WIFI_PASSWORD=… ci/lab-nightly.sh [PATHS…]
#
# Without ATHIL_RIG it runs against the virtual module, so the job can be tried anywhere.
# Exit status is athil's: 0 all passed, 1 a scenario failed, 2 unusable input, 130 interrupted.
set -uo pipefail
cd "$(dirname "$0")/.."

out="${ATHIL_OUT:-athil-out/nightly-$(date -u +%Y%m%dT%H%M%SZ)}"
paths=("$@")
[ "${#paths[@]}" -gt 0 ] || paths=(scenarios/)

cargo build --release --quiet || exit 2
args=(run --out "$out" --junit "$out/junit.xml")
[ -n "${ATHIL_RIG:-}" ] && args+=(--rig "$ATHIL_RIG")
[ -n "${ATHIL_PROFILE:-}" ] && args+=(--profile "$ATHIL_PROFILE")

./target/release/athil "${args[@]}" "${paths[@]}"
status=$?
echo "lab-nightly: athil exited $status; reports in $out"
exit "$status"
