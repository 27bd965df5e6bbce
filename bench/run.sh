#!/usr/bin/env bash
# Run the benchmarks side by side with their anchors, in a venv of their own:
#   bash bench/run.sh          # all of them: codec, server and appliance
#   bash bench/run.sh codec    # only the codec one
#   bash bench/run.sh appliance  # button latency, memory and start-up of pi-indi serve --mock
#   bash bench/run.sh soak [--minutes 10]  # 10 minutes of hostile and good clients (not in "all")
#   bash bench/run.sh abuse [--quick] [--only NAME] [--json PATH]  # the review's attacks, vs indiserver (not in "all")
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e . \
    "indipydriver==3.1.2" "indipyserver==0.0.6"
# The same C flood driver runs under pi_indi and under indiserver.
cc -O2 -o "$VENV/flood_c" bench/flood.c
case "${1:-all}" in
    codec) "$VENV/bin/python" bench/codec.py ;;
    server) "$VENV/bin/python" bench/server.py ;;
    appliance) "$VENV/bin/python" bench/appliance.py ;;
    soak) shift; "$VENV/bin/python" bench/soak.py "$@" ;;
    abuse) shift; "$VENV/bin/python" bench/abuse.py "$@" ;;
    *)
        "$VENV/bin/python" bench/codec.py
        "$VENV/bin/python" bench/server.py
        "$VENV/bin/python" bench/appliance.py
        ;;
esac
