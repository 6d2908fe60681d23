#!/usr/bin/env bash
# The nightly job of a lab rig: build athil, run the shipped scenarios (or those given) against
# the module the rig file describes, and leave JUnit, transcripts and pcaps for the CI server.
# (.ci/run is athil's own test suite; this script is what a lab runs with it.)
#
#   ATHIL_RIG=fixtures/rigs/esp8266-usb.yaml ATHIL_WIFI_PASSWORD=… ci/lab-nightly.sh [PATHS…]
#
# Without ATHIL_RIG it runs against the virtual modules (ATHIL_JOBS of them side by side,
# default 4), so the job can be tried anywhere. A rig with `slots:` runs its modules side by
# side; ATHIL_EACH_SLOT=1 runs every scenario on every slot (the compatibility matrix).
# Each run writes into a fresh folder under athil-out/ (athil-out/latest points at it).
# Exit status is athil's: 0 all passed, 1 a scenario failed, 2 unusable input, 3 a report not
# written, 128 + the signal's number when stopped by one.
set -uo pipefail
cd "$(dirname "$0")/.."

out="${ATHIL_OUT:-athil-out}"
paths=("$@")
[ "${#paths[@]}" -gt 0 ] || paths=(scenarios/)

cargo build --release --quiet || exit 2
args=(run --out "$out")
if [ -n "${ATHIL_RIG:-}" ]; then
  args+=(--rig "$ATHIL_RIG")
else
  args+=(--jobs "${ATHIL_JOBS:-4}")
fi
[ -n "${ATHIL_EACH_SLOT:-}" ] && args+=(--each-slot)
[ -n "${ATHIL_PROFILE:-}" ] && args+=(--profile "$ATHIL_PROFILE")

./target/release/athil "${args[@]}" "${paths[@]}"
status=$?
echo "lab-nightly: athil exited $status; reports in $out/latest"
exit "$status"
