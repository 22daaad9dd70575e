#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md on this machine and prints them
# as markdown: the in-process benchmarks (medians of COUNT runs, ratio to
# the floor), the burst and retry table, cmd/load against every system
# served over loopback HTTP, and the regression guard.
#
#   ./reproduce.sh                # COUNT=10 BENCHTIME=500ms PHONES=100 MESSAGES=100 CONCURRENCY=16
#   COUNT=3 BENCHTIME=3000x ./reproduce.sh
set -euo pipefail
cd "$(dirname "$0")"

count=${COUNT:-10}
benchtime=${BENCHTIME:-500ms}
phones=${PHONES:-100}
messages=${MESSAGES:-100}
concurrency=${CONCURRENCY:-16}

tmp=$(mktemp -d)
server=""
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "## Machine"
echo
echo '```'
go version
echo "cores: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
date -u '+%Y-%m-%d %H:%M UTC'
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' || true
echo '```'

for cpu in 1 2; do
	echo
	echo "## In process, GOMAXPROCS $cpu (go test -bench Webhook -benchmem -cpu $cpu -count $count -benchtime $benchtime)"
	echo
	go test -run '^$' -bench Webhook -benchmem -cpu "$cpu" -count "$count" -benchtime "$benchtime" . >"$tmp/bench.txt"
	go run ./cmd/benchtab <"$tmp/bench.txt"
done

echo
echo "## Burst and retry (go test -run TestBurstAndRetry -v)"
echo
go test -count=1 -run '^TestBurstAndRetry$' -v . | awk '/^        \|/ { sub(/^        /, ""); print }'

echo
echo "## Over loopback HTTP (cmd/serve + cmd/load -phones $phones -messages $messages -concurrency $concurrency)"
echo
go build -o "$tmp/serve" ./cmd/serve
go build -o "$tmp/load" ./cmd/load
echo "| system | requests/s | p50 | p99 | wrong replies |"
echo "|---|--:|--:|--:|--:|"
for sys in $("$tmp/serve" -list); do
	"$tmp/serve" -system "$sys" -addr 127.0.0.1:0 >"$tmp/serve.out" 2>&1 &
	server=$!
	for _ in $(seq 1 100); do grep -q listening "$tmp/serve.out" && break; sleep 0.1; done
	grep -q listening "$tmp/serve.out" || { cat "$tmp/serve.out" >&2; exit 1; }
	url=$(grep -o 'http://[^ ]*' "$tmp/serve.out")
	check=counter
	[ "$sys" = floor ] && check=none
	"$tmp/load" -url "$url" -phones "$phones" -messages "$messages" \
		-concurrency "$concurrency" -check "$check" >"$tmp/load.out" || true
	awk -v sys="$sys" '
		/^requests\/s/ { rps = $2 }
		/^latency/ { p50 = $3; p99 = $5 }
		/^wrong/ { wrong = $2 }
		END { printf "| %s | %s | %s | %s | %s |\n", sys, rps, p50, p99, wrong }' "$tmp/load.out"
	kill "$server"; wait "$server" 2>/dev/null || true; server=""
done

echo
echo "## Guard (CONVO_BENCH_GUARD=1 go test -run TestGuard)"
echo
echo '```'
CONVO_BENCH_GUARD=1 go test -count=1 -run '^TestGuard$' -v . | grep -E 'ratio|costs|^(ok|FAIL|---)' | sed 's/^ *//' || true
echo '```'
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
