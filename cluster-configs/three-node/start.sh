#!/usr/bin/env bash
# Starts the three-node cluster of this directory on loopback (gRPC ports 7710, 7720, 7730),
# in the background, with a shared cluster secret, and waits until it has a leader.
#
#   cluster-configs/three-node/start.sh            # from anywhere; runs in the repository root
#   MIRAGE=/path/to/mirage MIRAGE_CLUSTER_SECRET=... cluster-configs/three-node/start.sh
#
# Data, logs and pid files go to mirage-data/ under the repository root (as the configs say).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [[ -n "${MIRAGE:-}" ]]; then
    mirage="$MIRAGE"
elif [[ -x target/release/mirage ]]; then
    mirage="$root/target/release/mirage"
elif [[ -x target/debug/mirage ]]; then
    mirage="$root/target/debug/mirage"
elif command -v mirage >/dev/null 2>&1; then
    mirage="$(command -v mirage)"
else
    echo "error: no mirage binary: build it (cargo build -p mirage-node) or set MIRAGE=/path/to/mirage" >&2
    exit 1
fi

if [[ -z "${MIRAGE_CLUSTER_SECRET:-}" ]]; then
    MIRAGE_CLUSTER_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
fi
export MIRAGE_CLUSTER_SECRET

mkdir -p mirage-data
for id in 1 2 3; do
    pidfile="mirage-data/node-$id.pid"
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "error: node $id is already running (pid $(cat "$pidfile")); stop it first" >&2
        exit 1
    fi
done
for id in 1 2 3; do
    "$mirage" node --config "$here/node-$id.toml" >"mirage-data/node-$id.log" 2>&1 &
    echo $! >"mirage-data/node-$id.pid"
    echo "started node $id (pid $!, log mirage-data/node-$id.log)"
done

echo "waiting for a leader..."
for _ in $(seq 1 60); do
    if "$mirage" cluster status --addr 127.0.0.1:7710 --json 2>/dev/null | grep -q '"leader_id": [0-9]'; then
        "$mirage" cluster status --addr 127.0.0.1:7710
        echo
        echo "stop the cluster with:"
        echo "  kill \$(cat $root/mirage-data/node-1.pid $root/mirage-data/node-2.pid $root/mirage-data/node-3.pid)"
        exit 0
    fi
    sleep 0.5
done
echo "error: no leader after 30 s; see mirage-data/node-*.log" >&2
exit 1
