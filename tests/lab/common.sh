#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Shared settings of the nested-Xen lab and the client of the dom0 command
# agent.  Sourced by tests/lab/lab and tests/lab/lib.sh; defines no state
# beyond variables and functions.
#
# Every port and path of one lab derives from XLMIG_LAB_ID, so that two labs
# (another user, another checkout) on one machine do not clash.  The default
# ID is derived from the uid and the checkout's path; set XLMIG_LAB_ID (0-399)
# to choose one.  Environment knobs (all optional):
#   XLMIG_CACHE        cache root (default ~/.cache/xlmig); images in lab/
#   XLMIG_LAB_ID       lab number 0-399
#   XLMIG_LAB_RUN      run directory (pid files, consoles, sockets)
#   XLMIG_LAB_SHARE    host folder shared read-only at /xlmig in each dom0
#                      (default: the repository's build/ folder)
#   XLMIG_LAB_MEM      RAM of each nested host in MiB (default 1536)
#   XLMIG_LAB_DOM0_MEM dom0 memory in MiB (default 512)
#   XLMIG_LAB_MTU      MTU of the lab link (default 65000)
#   XLMIG_LAB_GUESTNET 1 (default): a guest network (third NIC, xenbr1 in
#                      each dom0, a bridge on this machine); 0: none

# shellcheck disable=SC2034 # the variables are used by the sourcing scripts
lab_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lab_dir=$lab_root/tests/lab
: "${XLMIG_CACHE:=$HOME/.cache/xlmig}"
export XLMIG_CACHE
lab_cache=$XLMIG_CACHE/lab

if [ -z "${XLMIG_LAB_ID:-}" ]; then
    XLMIG_LAB_ID=$((($(id -u) * 7 + $(printf '%s' "$lab_root" | cksum |
        cut -d' ' -f1)) % 400))
fi
case $XLMIG_LAB_ID in
'' | *[!0-9]*)
    echo "lab: XLMIG_LAB_ID must be a number 0-399" >&2
    exit 2
    ;;
esac
lab_id=$((XLMIG_LAB_ID % 400))
lab_run=${XLMIG_LAB_RUN:-$lab_cache/run-$lab_id}
lab_share=${XLMIG_LAB_SHARE:-$lab_root/build}
lab_mem_mib=${XLMIG_LAB_MEM:-1536}
lab_dom0_mem_mib=${XLMIG_LAB_DOM0_MEM:-512}
lab_mtu=${XLMIG_LAB_MTU:-65000}

# Ports on 127.0.0.1: base+1/+2 agents of A/B, +3/+4 interactive shells,
# +5 the inter-host link (A listens, B connects).
lab_port_base=$((20000 + lab_id * 8))

lab_hosts="A B"

# The guest network (docs/lab.md): one L2 segment for the guests' bridges
# xenbr1, separate from the lab link.  On this machine a bridge xlg<ID>
# (no address, ageing 300 s: the "fabric") with one tap per host; clients
# attach to it from network namespaces.  Dom0s are 192.168.78.<1|2>.
lab_guestnet=${XLMIG_LAB_GUESTNET:-1}
lab_gn_bridge=xlg$lab_id
lab_gn_tap() { echo "xlg$lab_id$(echo "$1" | tr AB ab)"; }
lab_gn_host_ip() { echo "192.168.78.$(lab_host_index "$1")"; }

# lab_host_index HOST -> 1 for A, 2 for B; fails for anything else.
lab_host_index()
{
    case $1 in
    A | a) echo 1 ;;
    B | b) echo 2 ;;
    *) return 1 ;;
    esac
}

lab_host_ip() # lab_host_ip HOST -> the dom0's address on the lab link
{
    local i
    i=$(lab_host_index "$1") || return 1
    echo "192.168.77.$i"
}

lab_agent_port() { echo $((lab_port_base + $(lab_host_index "$1"))); }
lab_shell_port() { echo $((lab_port_base + 2 + $(lab_host_index "$1"))); }
lab_link_port() { echo $((lab_port_base + 5)); }

# lab_exec [-t SECS] HOST CMDLINE
# Runs CMDLINE with /bin/sh in HOST's dom0 through its TCP agent, prints its
# output (stdout and stderr merged) and returns its exit status; 255 when the
# agent does not answer; 124 when the command ran out of time (it is killed
# in dom0).  The command line is sent as a here-document to a file in dom0, so
# any quoting survives; its stdin is /dev/null.  The client never half-closes
# the socket and stops reading at a sentinel line carrying the exit status.
lab_exec()
{
    local tmo=3600 host port tag line rc=255 fd
    if [ "${1:-}" = -t ]; then
        tmo=$2
        shift 2
    fi
    host=$1
    shift
    port=$(lab_agent_port "$host" 2>/dev/null) || {
        echo "lab: unknown host '$host' (A or B)" >&2
        return 2
    }
    tag="__LAB_${RANDOM}${RANDOM}_$$"
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 255
    # the remote side: write the command to a file, run it under a timeout
    # (KILL -> 137, reported as 124), report the status after the sentinel
    # tag (which may follow output that lacks its final newline), leave.
    printf '%s\n' "f=/tmp/.labcmd.\$\$; cat >\$f <<'$tag'" "$*" "$tag" \
        "timeout -s KILL $tmo sh \$f </dev/null 2>&1; r=\$?; rm -f \$f" \
        "[ \$r -eq 137 ] && r=124; echo \"$tag rc=\$r\"; exit" >&"$fd"
    while IFS= read -r -t $((tmo + 30)) line <&"$fd"; do
        case $line in
        *"$tag rc="*)
            [ -n "${line%%"$tag rc="*}" ] && printf '%s\n' "${line%%"$tag rc="*}"
            rc=${line##*"$tag rc="}
            break
            ;;
        esac
        printf '%s\n' "$line"
    done
    exec {fd}<&-
    case $rc in
    '' | *[!0-9]*) rc=255 ;;
    esac
    return "$rc"
}
