#!/bin/bash
# SPDX-License-Identifier: MIT
#
# xlmigd on this machine with a fake receiver: a good client gets through
# (the receiver runs, bytes flow both ways), and every bad client is
# refused in the handshake, before the receiver runs or reads a byte, with
# one log line: wrong CA, expired, not yet valid, no certificate, not on
# the allowlist, plaintext, PSK mismatch, wrong server name (client side),
# silent client (handshake deadline), and the concurrency limit.
set -u
root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${XLMIG_BUILD:-$root/build}
for b in xlmigd xlmig-tls-connect; do
    [ -x "$bin/$b" ] || { echo "no $bin/$b (make all)"; exit 1; }
done
command -v gnutls-cli >/dev/null || { echo "gnutls-cli missing"; exit 77; }
t=$(mktemp -d /tmp/xlmigd-auth.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
"$root/tests/tls/mk-certs" "$t/pki" >/dev/null || exit 1
pki=$t/pki fails=0

# the fake receiver: notes that it ran, then echoes the stream back
cat >"$t/recv" <<EOT
#!/bin/sh
echo "ran \$*" >>"$t/ran"
exec cat
EOT
chmod +x "$t/recv"
touch "$t/ran"

conf() { # conf FILE MODE CERT CA ALLOW...
    local f=$1 mode=$2 cert=$3 ca=$4
    shift 4
    {
        echo "mode = $mode"
        echo "ca = $pki/$ca.pem"
        echo "cert = $pki/$cert.pem"
        echo "key = $pki/$cert.key"
        echo "psk-file = $pki/psk.txt"
        echo "psk-identity = host-a"
        echo "handshake-timeout-ms = 1000"
        for a in "$@"; do echo "allow = $a"; done
    } >"$f"
}

start_daemon() { # start_daemon NAME CONF [options]
    local name=$1 c=$2
    shift 2
    rm -f "$t/$name.port"
    "$bin/xlmigd" -F -c "$c" --listen 127.0.0.1:0 --port-file "$t/$name.port" \
        --receiver "$t/recv" --no-sweep "$@" 2>"$t/$name.log" &
    pids+=($!)
    for _ in $(seq 50); do [ -s "$t/$name.port" ] && break; sleep 0.1; done
    [ -s "$t/$name.port" ] || { cat "$t/$name.log"; exit 1; }
    dport=$(cat "$t/$name.port")
}

check() { # check NAME OK(0/1) LOG PATTERN -- command
    local name=$1 want=$2 log=$3 pat=$4 before after lines rc
    shift 5
    before=$(wc -l <"$t/ran")
    lines=$(wc -l <"$t/$log.log")
    "$@" >"$t/out" 2>"$t/err"
    rc=$?
    sleep 0.3
    after=$(wc -l <"$t/ran")
    new=$(tail -n +$((lines + 1)) "$t/$log.log")
    if [ "$want" = 0 ]; then
        if [ $rc -ne 0 ] || [ "$after" -ne $((before + 1)) ]; then
            echo "FAIL $name: rc $rc, receiver runs $before -> $after"
            cat "$t/err"; echo "$new"; fails=$((fails + 1)); return
        fi
    else
        if [ $rc -eq 0 ] && [ "$(tr -d '\0' <"$t/out")" = ping ]; then
            echo "FAIL $name: data went through"; fails=$((fails + 1)); return
        fi
        if [ "$after" -ne "$before" ]; then
            echo "FAIL $name: the receiver ran"; fails=$((fails + 1)); return
        fi
    fi
    # the daemon logs asynchronously: give a slow (sanitizer) build time
    for _ in $(seq 50); do
        grep -qE "$pat" <<<"$new" && break
        sleep 0.1
        new=$(tail -n +$((lines + 1)) "$t/$log.log")
    done
    if ! grep -qE "$pat" <<<"$new"; then
        echo "FAIL $name: no log line matching '$pat' in:"
        echo "$new"; cat "$t/err"; fails=$((fails + 1)); return
    fi
    echo "ok   $name: $(grep -E "$pat" <<<"$new" | head -n1)"
}

conf "$t/srv.conf" x509 host-b ca host-a
start_daemon x509 "$t/srv.conf" --max-connections 1
port=$dport
connect() { # connect CONF [host]
    echo ping | timeout 20 "$bin/xlmig-tls-connect" -c "$1" "${2:-127.0.0.1}:$port"
}

conf "$t/good.conf" x509 host-a ca host-b
check good 0 x509 "authenticated as 'host-a'" -- connect "$t/good.conf"
[ "$(cat "$t/out")" = ping ] || { echo "FAIL good: got '$(cat "$t/out")'"; fails=$((fails + 1)); }

conf "$t/c.conf" x509 rogue evil-ca host-b
# both sides distrust each other: whichever checks first ends the handshake
check wrong-ca 1 x509 "refused .*(no certificate|not trusted|alert|closed the connection in the handshake)" -- connect "$t/c.conf"
conf "$t/c.conf" x509 rogue ca host-b
check wrong-ca-client 1 x509 "refused .*no certificate" -- connect "$t/c.conf"
conf "$t/c.conf" x509 expired ca host-b
check expired 1 x509 "refused .*expired" -- connect "$t/c.conf"
conf "$t/c.conf" x509 notyet ca host-b
check not-yet-valid 1 x509 "refused .*not yet valid" -- connect "$t/c.conf"
conf "$t/c.conf" x509 stranger ca host-b
check not-allowed 1 x509 "refused .*CN=stranger.* not on the allowlist" -- connect "$t/c.conf"
check no-certificate 1 x509 "refused .*no certificate" -- \
    timeout 20 gnutls-cli --x509cafile "$pki/ca.pem" -p "$port" 127.0.0.1 \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' </dev/null
check plaintext 1 x509 "refused .*not a TLS 1.3 peer" -- \
    timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; \
        printf 'Xen migration stream\n' >&3; cat <&3"
check silent 1 x509 "refused .*no handshake within 1000 ms" -- \
    timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; sleep 1.5"
check insecure-client 1 x509 "refused .*not a TLS 1.3 peer" -- \
    bash -c "echo ping | timeout 20 '$bin/xlmig-tls-connect' --insecure \
        -c '$t/good.conf' 127.0.0.1:$port"
grep -q "neither authenticated nor encrypted" "$t/err" ||
    { echo "FAIL insecure-client: no warning"; fails=$((fails + 1)); }

# concurrency limit: one receive holds the only slot
(sleep 3 | "$bin/xlmig-tls-connect" -c "$t/good.conf" "127.0.0.1:$port" \
    >/dev/null 2>&1) &
sleep 1
check max-connections 1 x509 "refused .*max-connections" -- connect "$t/good.conf"
wait $!

# a receiver that hangs (never reads, never answers): once the sender has
# closed both of the transport's pipes, xlmig-tls-connect ends at once
printf '#!/bin/sh\nexec sleep 20\n' >"$t/hang"
chmod +x "$t/hang"
start_daemon hang "$t/srv.conf" --receiver "$t/hang"
s0=$SECONDS
timeout 15 "$bin/xlmig-tls-connect" -c "$t/good.conf" "127.0.0.1:$dport" \
    </dev/null 2>"$t/err" | true
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 1 ] || ! grep -q "the sender has gone" "$t/err"; then
    echo "FAIL hung-receiver: rc $rc after $((SECONDS - s0)) s"
    cat "$t/err"; fails=$((fails + 1))
else
    echo "ok   hung-receiver: $(head -n1 "$t/err") ($((SECONDS - s0)) s)"
fi

# the client refuses a server with the wrong name (CA-valid other.example)
conf "$t/other.conf" x509 other ca host-a
start_daemon other "$t/other.conf"
oport=$dport
lines=$(wc -l <"$t/ran")
if echo ping | timeout 20 "$bin/xlmig-tls-connect" -c "$t/good.conf" \
    "127.0.0.1:$oport" >"$t/out" 2>"$t/err" ||
    [ "$(wc -l <"$t/ran")" -ne "$lines" ] ||
    ! grep -q "does not match the expected" "$t/err"; then
    echo "FAIL wrong-server-name"; cat "$t/err"; fails=$((fails + 1))
else
    echo "ok   wrong-server-name: $(head -n1 "$t/err")"
fi

# PSK: match, then mismatch
conf "$t/psk-srv.conf" psk host-b ca host-a
start_daemon psk "$t/psk-srv.conf"
port=$dport
conf "$t/psk-cli.conf" psk host-a ca
check psk-good 0 psk "authenticated as 'host-a'" -- connect "$t/psk-cli.conf"
sed "s|psk.txt|psk-wrong.txt|" "$t/psk-cli.conf" >"$t/psk-bad.conf"
check psk-mismatch 1 psk "refused .*wrong pre-shared key" -- connect "$t/psk-bad.conf"

echo "report: xlmigd refused $(grep -c 'refused' "$t"/*.log | awk -F: '{s+=$2} END {print s}') bad connections before any stream byte"
[ $fails -eq 0 ]
