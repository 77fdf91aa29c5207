#!/usr/bin/env bash
# make test-systemd: the installed unit under a real systemd, in a
# container (systemd-nspawn over a Debian rootfs made by debootstrap) whose
# network namespace is one this script makes: the container's end of a
# veth pair, whose far end is in a second namespace with 10.77.9.2. The
# daemon runs as the unit runs it (-a 1 -k: the kernel sends no broadcast
# of its own, so only arpd can resolve 10.77.9.2). It checks that the unit
# starts, that the sysctls are adjusted (over rtnetlink: the unit's
# /proc/sys is read-only), that a datagram to 10.77.9.2 gets the far end's
# address into the kernel's table, and that stopping the unit restores
# the sysctls. It skips (exit 0), saying why, where it cannot run.
#
# ROOTFS (default /var/tmp/arpd-systemd-rootfs) is made once and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() { echo "test-systemd skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (apt-get install systemd-container)"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"

ROOTFS=${ROOTFS:-/var/tmp/arpd-systemd-rootfs}
SUITE=${SUITE:-bookworm}
if [ ! -x "$ROOTFS/lib/systemd/systemd" ]; then
	command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"
	echo "== debootstrap $SUITE into $ROOTFS (once)"
	rm -rf "$ROOTFS.tmp"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2 \
		"$SUITE" "$ROOTFS.tmp" http://deb.debian.org/debian >/dev/null ||
		skip "debootstrap failed (no Debian mirror reachable?)"
	mv "$ROOTFS.tmp" "$ROOTFS"
fi

NS=arpdsd$$ FAR=arpdsdf$$ MACHINE=arpd-test
pid= ok=0
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	ip netns del "$FAR" 2>/dev/null || true
	[ $ok = 1 ] || { echo "--- container log"; tail -n 40 "$LOG" 2>/dev/null || true; }
}
LOG=$(mktemp)
trap 'cleanup; rm -f "$LOG"' EXIT

# The container's own namespace, and the far end.
ip netns add "$NS"
ip netns add "$FAR"
ip -n "$NS" link add vsd0 type veth peer name vsd1 netns "$FAR"
ip -n "$NS" addr add 10.77.9.1/24 dev vsd0
ip -n "$FAR" addr add 10.77.9.2/24 dev vsd1
ip -n "$NS" link set lo up
ip -n "$NS" link set vsd0 up
ip -n "$FAR" link set vsd1 up
ip netns exec "$NS" sh -c 'echo 0 > /proc/sys/net/ipv4/neigh/vsd0/app_solicit; echo 5 > /proc/sys/net/ipv4/neigh/vsd0/mcast_solicit'
sysctls() { ip netns exec "$NS" cat /proc/sys/net/ipv4/neigh/vsd0/app_solicit /proc/sys/net/ipv4/neigh/vsd0/mcast_solicit | tr '\n' ' '; }

# The unit, installed as make install does it, enabled, with its options.
make --no-print-directory install DESTDIR="$ROOTFS" PREFIX=/usr/local >/dev/null
printf 'ARPD_OPTS="-a 1 -k"\nARPD_INTERFACES="vsd0"\n' > "$ROOTFS/etc/default/arpd"
mkdir -p "$ROOTFS/etc/systemd/system/multi-user.target.wants"
ln -sf /usr/local/lib/systemd/system/arpd.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/arpd.service"

echo "== booting $SUITE under systemd-nspawn in network namespace $NS"
# NB: nspawn keeps CAP_NET_ADMIN in the container's bounding set only with
# a network of its own; --network-namespace-path gives it one but not the
# capability (without it RTM_SETNEIGHTBL fails with EPERM), so it is
# granted as --private-network would.
systemd-nspawn -q -D "$ROOTFS" -M "$MACHINE" --register=no --keep-unit \
	--network-namespace-path="/run/netns/$NS" --capability=CAP_NET_ADMIN -b >"$LOG" 2>&1 </dev/null &
pid=$!
# The container's PID 1, for nsenter.
in_ct() { nsenter -t "$leader" -a "$@"; }
leader=
for _ in $(seq 100); do
	leader=$(ps -o pid= --ppid "$pid" | head -n1 | tr -d ' ') || true
	[ -n "$leader" ] && in_ct systemctl is-system-running --wait >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "FAIL: the container exited"; exit 1; }
	sleep 0.3
done
[ -n "$leader" ] || { echo "FAIL: no container"; exit 1; }
sleep 1 # past a first failed start, if any
state=$(in_ct systemctl is-active arpd || true)
echo "arpd.service: $state"
in_ct systemctl status --no-pager arpd | sed -n '1,12p'
[ "$state" = active ] || { echo "FAIL: arpd.service is $state"; in_ct journalctl -u arpd --no-pager -q | tail -n 20; exit 1; }

got=$(sysctls)
echo "sysctls app_solicit mcast_solicit with the unit running: $got"
[ "$got" = "1 0 " ] || { echo "FAIL: want 1 0"; exit 1; }

# Only arpd can resolve 10.77.9.2 now (mcast_solicit 0).
ip netns exec "$NS" bash -c 'echo x > /dev/udp/10.77.9.2/7777' 2>/dev/null || true
farmac=$(ip -n "$FAR" -br link show vsd1 | awk '{print $3}')
neigh=
for _ in $(seq 50); do
	neigh=$(ip -n "$NS" neigh show 10.77.9.2 dev vsd0)
	case $neigh in *"lladdr $farmac"*) break ;; esac
	sleep 0.1
done
echo "kernel's entry: $neigh"
case $neigh in *"lladdr $farmac"*) ;; *) echo "FAIL: 10.77.9.2 not resolved to $farmac"; exit 1 ;; esac
in_ct journalctl -u arpd --no-pager -q | tail -n 5

in_ct systemctl stop arpd
got=$(sysctls)
echo "sysctls after systemctl stop: $got"
[ "$got" = "0 5 " ] || { echo "FAIL: want the originals 0 5"; exit 1; }
ok=1
echo "test-systemd passed"
