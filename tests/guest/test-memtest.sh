#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 120
#
# memtest (the test guest's memory-integrity workload) on this machine, over
# loopback on a free port: protocol, pattern check, corruption detection,
# dirtying rate, heartbeat gap, hostile input, clean shutdown.
set -u

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XLMIG_BUILD:-$root/build}
memtest=$build/tests/guest/memtest
[ -x "$memtest" ] || { echo "memtest not built: $memtest"; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    [ -f "$tmp/out" ] && sed 's/^/  memtest: /' "$tmp/out"
    exit 1
}

# start ARGS...: run memtest, wait for MEMTEST-UP, set $pid and $port
start() {
    : >"$tmp/out"
    "$memtest" --bind 127.0.0.1 --port 0 "$@" >"$tmp/out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        grep -q '^MEMTEST-UP' "$tmp/out" && break
        kill -0 "$pid" 2>/dev/null || fail "memtest $* exited early"
        sleep 0.1
    done
    port=$(sed -n 's/^MEMTEST-UP .*port=\([0-9]*\).*/\1/p' "$tmp/out")
    [ -n "$port" ] || fail "no MEMTEST-UP line"
}

# stop: SIGTERM must end memtest with status 0 (leak checks run under SAN)
stop() {
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    pid=""
    [ "$rc" -eq 0 ] || fail "memtest exited with $rc after SIGTERM"
}

# ask LINE...: one connection, one reply line per request line, on stdout
ask() {
    local l
    exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect"
    for l in "$@"; do
        printf '%s\n' "$l" >&3
        IFS= read -r -t 20 reply <&3 || fail "no reply to '$l'"
        printf '%s\n' "$reply"
    done
    exec 3>&-
}

# stat KEY: one value from "stats"
stat() {
    ask stats | tr ' ' '\n' | sed -n "s/^$1=//p"
}

expect() { # expect WHAT GOT WANT-REGEX
    [[ $2 =~ $3 ]] || fail "$1: got '$2', want /$3/"
    echo "ok: $1: $2"
}

# ---- 1: protocol basics, on an idle 4 MiB instance
start --mb 4 --rate 0 --seed 42 --test-hooks
expect "up line" "$(head -n1 "$tmp/out")" '^MEMTEST-UP pages=1024 port=[0-9]+ rate=0 hot=1024 seed=42'
expect ping "$(ask ping)" '^pong$'
expect "ping with CRLF" "$(ask $'ping\r')" '^pong$'
expect verify "$(ask verify)" '^ok 1024 pages$'
s=$(ask stats)
for k in pages rate hot dirtied max_gap_ms last_gap_ms uptime_ms; do
    expect "stats has $k" "$s" "(^| )$k=[0-9.]+( |$)"
done
expect "idle dirties nothing" "$(stat dirtied)" '^0$'
expect info "$(ask info)" '^kernel=[^ ]+ mem_total_kib=[0-9]+ mem_avail_kib=[0-9]+$'
expect unknown "$(ask bogus)" '^error unknown command$'
expect "ping with argument" "$(ask 'ping x')" '^error unknown command$'
expect "bad rate" "$(ask 'rate 12x')" '^error'
expect "huge rate" "$(ask 'rate 99999999999999999999999')" '^error'
expect "corrupt out of range" "$(ask 'corrupt 1024')" '^error'

# several commands on one connection, then several clients in turn
expect "one connection" "$(ask ping stats verify | tr '\n' '|')" '^pong\|pages=.*\|ok 1024 pages\|$'
for i in 1 2 3; do
    expect "client $i" "$(ask ping)" '^pong$'
done

# ---- 2: a flipped byte is found, and where
expect corrupt "$(ask 'corrupt 700 123')" '^ok$'
expect "verify finds it" "$(ask verify)" '^bad page 700 gen 0 word 15 want 0x[0-9a-f]{16} got 0x[0-9a-f]{16} bad_pages=1$'
ask 'corrupt 700 123' >/dev/null
expect "flipped back" "$(ask verify)" '^ok 1024 pages$'
ask 'corrupt 3 0' 'corrupt 900 4095' >/dev/null
expect "two bad pages, first reported" "$(ask verify)" '^bad page 3 gen 0 word 0 .* bad_pages=2$'
ask 'corrupt 3 0' 'corrupt 900 4095' >/dev/null

# ---- 3: heartbeat: a 400 ms SIGSTOP is a gap of at least 400 ms
ask reset >/dev/null
kill -STOP "$pid"
sleep 0.4
kill -CONT "$pid"
sleep 0.1
g=$(stat max_gap_ms)
awk -v g="$g" 'BEGIN { exit !(g >= 400 && g < 5000) }' ||
    fail "max_gap_ms $g after a 400 ms stop"
echo "ok: 400 ms stop seen as max_gap_ms=$g"
s=$(ask stats)
expect "big gap counted" "$s" '(^| )big_gaps=1 '
expect "mono clock sees it too" "$s" 'max_gap_mono_ms=(4[0-9][0-9]|[5-9][0-9][0-9]|[0-9]{4})\.'
ask reset >/dev/null
g=$(stat max_gap_ms)
awk -v g="$g" 'BEGIN { exit !(g < 400) }' || fail "reset left max_gap_ms=$g"
echo "ok: reset -> max_gap_ms=$g"

# ---- 4: hostile input does not kill it
head -c 20000 /dev/urandom >"$tmp/garbage"
exec 3<>"/dev/tcp/127.0.0.1/$port"
cat "$tmp/garbage" >&3
exec 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$port"
head -c 5000 /dev/zero | tr '\0' 'a' >&3
printf '\nping\n' >&3
IFS= read -r -t 10 l1 <&3
IFS= read -r -t 10 l2 <&3
exec 3>&-
expect "overlong line" "$l1" '^error line too long$'
expect "after overlong line" "$l2" '^pong$'
expect "NUL in line" "$(printf 'pi\0ng\n' | { exec 3<>"/dev/tcp/127.0.0.1/$port"; cat >&3; IFS= read -r -t 10 l <&3; echo "$l"; })" '^error unknown command$'
# a client that connects and leaves without a word
exec 3<>"/dev/tcp/127.0.0.1/$port"
exec 3>&-
kill -0 "$pid" || fail "memtest died on hostile input"
expect "alive after garbage" "$(ask ping)" '^pong$'
expect "memory intact after garbage" "$(ask verify)" '^ok 1024 pages$'
stop

# ---- 5: dirtying at a rate, on a hot set; verify never races the dirtier
start --mb 8 --rate 5000 --hot 16 --seed 7 --test-hooks
sleep 0.5
s1=$(ask stats)
sleep 1
s2=$(ask stats)
# pages per second between the two samples, timed by memtest's own clock
rate=$(printf '%s\n%s\n' "$s1" "$s2" | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[NR, kv[1]] = kv[2] }
} END {
    dt = v[2, "uptime_ms"] - v[1, "uptime_ms"]
    printf "%d", (v[2, "dirtied"] - v[1, "dirtied"]) * 1000 / dt
}')
# loose bounds: the machine is shared, but 5000/s must be in the ballpark
if [ "$rate" -lt 3000 ] || [ "$rate" -gt 6000 ]; then
    fail "dirtied $rate pages/s at rate 5000"
fi
echo "ok: rate 5000 -> $rate pages/s measured"
# a hot, fast dirtier (16 pages rewritten 200000 times/s): a verify that did
# not pause it would catch pages half rewritten
ask 'rate 200000' >/dev/null
for i in $(seq 30); do
    r=$(ask verify)
    [ "$r" = "ok 2048 pages" ] || fail "verify $i while dirtying: $r"
done
echo "ok: 30 verifies while dirtying at 200000 pages/s"
ask 'rate 5000' >/dev/null
# pages outside the hot set keep generation 0; a bad one there is reported
ask 'corrupt 2000' >/dev/null
expect "corruption while dirtying" "$(ask verify)" '^bad page 2000 gen 0 '
ask 'corrupt 2000' >/dev/null
expect "rate 0" "$(ask 'rate 0')" '^ok$'
sleep 0.2
d1=$(stat dirtied)
sleep 0.5
d2=$(stat dirtied)
[ "$d1" = "$d2" ] || fail "rate 0 still dirtied $((d2 - d1)) pages"
expect "rate 0 in stats" "$(stat rate)" '^0$'
echo "ok: rate 0 stops dirtying"
# a page in the hot set has been rewritten: its generation is > 0
ask 'corrupt 5 8' >/dev/null
expect "hot page generation" "$(ask verify)" '^bad page 5 gen [1-9][0-9]* word 1 '
ask 'corrupt 5 8' >/dev/null
expect "verify after dirtying" "$(ask verify)" '^ok 2048 pages$'
stop

# ---- 6: without --test-hooks there is no corrupt command
start --mb 1
expect "no hooks" "$(ask 'corrupt 1')" '^error unknown command$'
stop

# ---- 7: parameters from a kernel command line file, argv wins
echo "console=hvc0 quiet mt_mb=2 mt_rate=0 mt_hot=10 mt_seed=99 gip=1.2.3.4" \
    >"$tmp/cmdline"
start --cmdline "$tmp/cmdline"
expect "cmdline" "$(head -n1 "$tmp/out")" '^MEMTEST-UP pages=512 .*hot=10 seed=99'
stop
start --cmdline "$tmp/cmdline" --seed 5 mt_hot=20
expect "argv over cmdline" "$(head -n1 "$tmp/out")" '^MEMTEST-UP pages=512 .*hot=20 seed=5'
stop

# bad parameters are refused with status 1, before anything is allocated
for bad in "--mb 0" "--mb x" "--mb 99999999" "--rate -1" "--port 70000" \
    "--bind nowhere" "--frobnicate 1" "mt_mb=1x"; do
    # shellcheck disable=SC2086  # word splitting intended
    "$memtest" --cmdline none --port 0 $bad >"$tmp/bad" 2>&1
    rc=$?
    [ "$rc" -eq 1 ] || fail "memtest $bad: rc $rc, want 1"
    grep -q '^memtest: ' "$tmp/bad" || fail "memtest $bad: no error message"
done
echo "ok: bad parameters refused"
# more than the kernel has available: refused with a clear message (only
# where 64 GiB really is more than that, so nothing big gets allocated)
avail=$(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo)
if [ -n "$avail" ] && [ "$avail" -lt $((65536 * 1024)) ]; then
    "$memtest" --cmdline none --port 0 --mb 65536 >"$tmp/bad" 2>&1 &&
        fail "65536 MiB accepted with $avail KiB available"
    grep -q '65536 MiB asked, only [0-9]* MiB available' "$tmp/bad" ||
        fail "no message for too much memory: $(cat "$tmp/bad")"
    echo "ok: more memory than available refused"
fi
echo "mt_mb=oops" >"$tmp/cmdline"
"$memtest" --cmdline "$tmp/cmdline" --port 0 >"$tmp/bad" 2>&1 &&
    fail "bad cmdline value accepted"
grep -q "bad value in 'mt_mb=oops'" "$tmp/bad" || fail "no message for a bad cmdline"
echo "ok: bad cmdline value refused"
echo "all memtest checks passed"
