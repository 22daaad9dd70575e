#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md on this machine and prints them
# as markdown: the in-process benchmarks (medians of COUNT runs, ratio to
# the floor), the burst and retry table, cmd/load against every system
# kept in memory or a cookie served over loopback HTTP, the shared stores
# (cmd/shared: convo beside scs on SQLite, PostgreSQL, MySQL and Redis,
# with the database's CPU), the regression guard, and the scale of each
# store (cmd/scale, SCALE_N conversations; SCALE_N=0 skips it).
#
# The servers come from CONVO_TEST_POSTGRES_DSN, CONVO_TEST_MYSQL_DSN and
# CONVO_TEST_REDIS_ADDR; a backend left unset is left out.
#
#   ./reproduce.sh     # COUNT=10 BENCHTIME=500ms PHONES=1000 MESSAGES=5 CONCURRENCY=16 RUNS=5 SCALE_N=1000000
#   COUNT=3 BENCHTIME=3000x RUNS=3 SCALE_N=0 ./reproduce.sh
set -euo pipefail
cd "$(dirname "$0")"

count=${COUNT:-10}
benchtime=${BENCHTIME:-500ms}
phones=${PHONES:-1000}
messages=${MESSAGES:-5}
concurrency=${CONCURRENCY:-16}
runs=${RUNS:-5}
scale_n=${SCALE_N:-1000000}

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
echo "cores: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
for s in postgres mariadbd redis-server; do
	case $s in
	postgres) v=$(psql --version 2>/dev/null | head -1) ;;
	mariadbd) v=$(mariadbd --version 2>/dev/null || mysqld --version 2>/dev/null || true) ;;
	redis-server) v=$(redis-server --version 2>/dev/null || true) ;;
	esac
	[ -n "$v" ] && echo "$v"
done
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
date -u '+%Y-%m-%d %H:%M UTC'
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' || true
if [ -n "$(git status --porcelain -- . ../*.go ../sqlstore ../redisstore ../memstore ../cookiestore 2>/dev/null)" ]; then
	echo "(with uncommitted changes in the measured code)"
fi
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
go build -o "$tmp/shared" ./cmd/shared
go build -o "$tmp/scale" ./cmd/scale
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
echo "## Shared stores (cmd/shared -phones $phones -messages $messages -concurrency $concurrency -runs $runs)"
echo
"$tmp/shared" -serve "$tmp/serve" -load "$tmp/load" -phones "$phones" -messages "$messages" \
	-concurrency "$concurrency" -runs "$runs"

echo
echo "## Guard (CONVO_BENCH_GUARD=1 go test -run TestGuard)"
echo
echo '```'
CONVO_BENCH_GUARD=1 go test -count=1 -run '^TestGuard$' -v . | grep -E 'ratio|costs|SKIP|^(ok|FAIL|---)' | sed 's/^ *//' || true
echo '```'

if [ "$scale_n" != 0 ]; then
	echo
	echo "## Scale (cmd/scale -n $scale_n)"
	echo
	echo "df -h at the start: $(df -h . | awk 'NR == 2 { print $4 " free of " $2 }')"
	for store in memstore sqlite postgres mysql redis; do
		case $store in
		postgres) [ -n "${CONVO_TEST_POSTGRES_DSN:-}" ] || continue ;;
		mysql) [ -n "${CONVO_TEST_MYSQL_DSN:-}" ] || continue ;;
		redis) [ -n "${CONVO_TEST_REDIS_ADDR:-}" ] || continue ;;
		esac
		echo
		echo "\`-store $store\`:"
		echo
		echo '```'
		"$tmp/scale" -store "$store" -n "$scale_n" | tee "$tmp/scale-$store.out" | grep -v '^|' | grep -v '^$'
		echo '```'
	done
	echo
	first=1
	for store in memstore sqlite postgres mysql redis; do
		f="$tmp/scale-$store.out"
		[ -e "$f" ] || continue
		if [ $first = 1 ]; then grep '^|' "$f"; first=0; else grep '^|' "$f" | tail -n 1; fi
	done
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
