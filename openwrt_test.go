package main

// The OpenWrt init script, run by /bin/sh (and by busybox sh, OpenWrt's own
// shell, where installed) against stand-ins for rc.common, the UCI
// functions, procd's helpers, the network functions, logger, the file
// commands and the arpd binary. The stand-ins record every call, and the
// tests check the exact procd calls of each instance, in order.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// initScript and shippedConfig are the files the package installs as
// /etc/init.d/arpd and /etc/config/arpd.
const (
	initScript    = "openwrt/files/arpd.init"
	shippedConfig = "openwrt/files/arpd.config"
)

// The stand-ins, written under a fake IPKG_INSTROOT. Each procd call is one
// line in $PROCD_LOG with its words separated by \037 (the unit separator),
// so arguments with spaces survive.
const (
	// standinRC does what rc.common does for a procd script: it loads
	// the UCI functions and the script, then procd's helpers, and runs
	// what "start" and "reload" run (start_service), or service_triggers.
	standinRC = `initscript=$1
action=$2
. "$IPKG_INSTROOT/lib/functions.sh"
. "$initscript"
[ "$USE_PROCD" = 1 ] || { echo "USE_PROCD is not 1" >&2; exit 1; }
. "$IPKG_INSTROOT/lib/functions/procd.sh"
case "$action" in
start) start_service ;;
triggers) service_triggers ;;
*) echo "unknown action $action" >&2; exit 1 ;;
esac
`
	// standinFunctions loads a UCI file by running it as shell, as
	// functions.sh does with the output of "uci export": config, option
	// and list are functions that fill CONFIG_<section>_<option>.
	standinFunctions = `CONFIG_SECTIONS=
CONFIG_SECTION=
CONFIG_ANON=0
config() {
	local name="$2"
	if [ -z "$name" ]; then
		CONFIG_ANON=$((CONFIG_ANON + 1))
		name="cfg$CONFIG_ANON"
	fi
	CONFIG_SECTION="$name"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $name"
	eval "CONFIG_${name}_TYPE=\$1"
}
option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}
list() {
	local old
	eval "old=\${CONFIG_${CONFIG_SECTION}_$1-}"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${old:+\$old }\$2\""
}
config_load() {
	CONFIG_SECTIONS=
	. "$UCI_CONFIG_DIR/$1"
}
config_get() {
	eval "$1=\${CONFIG_${2}_${3}:-\$4}"
}
config_get_bool() {
	local v
	eval "v=\${CONFIG_${2}_${3}-}"
	case "$v" in
	1|on|true|yes|enabled) v=1 ;;
	0|off|false|no|disabled) v=0 ;;
	*) v="$4" ;;
	esac
	eval "$1=\$v"
}
config_foreach() {
	local fn="$1" type="$2" s t
	for s in $CONFIG_SECTIONS; do
		eval "t=\${CONFIG_${s}_TYPE}"
		[ "$t" = "$type" ] && "$fn" "$s"
	done
	return 0
}
`
	// standinProcd records the calls procd.sh would turn into ubus
	// messages.
	standinProcd = `procd_log() {
	local IFS="$(printf '\037')"
	printf '%s\n' "$*" >> "$PROCD_LOG"
}
procd_open_instance() { procd_log open "$1"; }
procd_set_param() { procd_log set "$@"; }
procd_append_param() { procd_log append "$@"; }
procd_close_instance() { procd_log close; }
procd_add_jail() { procd_log jail "$@"; }
procd_add_jail_mount() { procd_log jail-mount "$@"; }
procd_add_jail_mount_rw() { procd_log jail-mount-rw "$@"; }
procd_add_reload_trigger() { procd_log reload-trigger "$@"; }
procd_add_reload_interface_trigger() { procd_log interface-trigger "$@"; }
`
	// standinNetwork answers network_get_device from TEST_NETDEV_<iface>,
	// and fails, as the real one does, for an interface that is down.
	standinNetwork = `network_get_device() {
	local __dev
	eval "__dev=\${TEST_NETDEV_$2-}"
	eval "$1=\$__dev"
	[ -n "$__dev" ]
}
`
	// standinLogger keeps what the script logs.
	standinLogger = `#!/bin/sh
printf '%s\n' "$*" >> "$LOGGER_LOG"
`
	// standinFileCmd is mkdir, chown and chmod: it records the call
	// (named by the link it runs as) in $FS_LOG, words separated by
	// \037, and changes nothing.
	standinFileCmd = `#!/bin/sh
IFS="$(printf '\037')"
printf '%s\n' "${0##*/}$IFS$*" >> "$FS_LOG"
`
	// standinArpd stands for the binary the script runs with -V to
	// check a command line: it records its arguments in $ARPD_LOG and
	// accepts them.
	standinArpd = `#!/bin/sh
IFS="$(printf '\037')"
printf '%s\n' "$*" >> "$ARPD_LOG"
echo "arpd test"
`
)

// initEnv is what one run of the init script runs against.
type initEnv struct {
	config string            // the UCI file /etc/config/arpd
	netdev map[string]string // the logical interfaces that are up, and their devices
	arpd   string            // the binary run with -V, "" for standinArpd
}

// procdInstance is what one procd_open_instance ... procd_close_instance
// block set up.
type procdInstance struct {
	name    string
	command []string
	params  map[string][]string // every other parameter, last value
	calls   [][]string          // every call of the block, in order
}

// initRun is the result of one run of the init script.
type initRun struct {
	instances []procdInstance
	triggers  [][]string // reload and interface triggers, in order
	logged    string     // what went to logger
	files     [][]string // the mkdir, chown and chmod calls, in order
	checked   [][]string // the command lines given to arpd -V
}

// openwrtShells returns the shells to run the init script with: /bin/sh,
// and busybox sh (OpenWrt's ash) where busybox is installed.
func openwrtShells(t *testing.T) [][]string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh:", err)
	}
	shells := [][]string{{"/bin/sh"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{bb, "sh"})
	}
	return shells
}

// writeInitRoot writes the init script (its text given, so that a test
// can run a changed copy) and the stand-ins under a new fake
// IPKG_INSTROOT, and returns it.
func writeInitRoot(t *testing.T, script string, env initEnv) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/rc.common":            standinRC,
		"lib/functions.sh":         standinFunctions,
		"lib/functions/procd.sh":   standinProcd,
		"lib/functions/network.sh": standinNetwork,
		"etc/config/arpd":          env.config,
		"bin/logger":               standinLogger,
		"bin/mkdir":                standinFileCmd,
		"bin/chown":                standinFileCmd,
		"bin/chmod":                standinFileCmd,
		"usr/sbin/arpd":            standinArpd,
		"etc/init.d/arpd":          script,
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if env.arpd != "" {
		p := filepath.Join(root, "usr/sbin/arpd")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(env.arpd, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runInit runs the init script with action ("start" or "triggers") under
// shell, against env.
func runInit(t *testing.T, shell []string, script, action string, env initEnv) initRun {
	t.Helper()
	root := writeInitRoot(t, script, env)
	args := append(append([]string{}, shell[1:]...),
		filepath.Join(root, "etc/rc.common"), filepath.Join(root, "etc/init.d/arpd"), action)
	cmd := exec.Command(shell[0], args...)
	logs := map[string]string{}
	for _, name := range []string{"PROCD_LOG", "LOGGER_LOG", "FS_LOG", "ARPD_LOG"} {
		logs[name] = filepath.Join(root, strings.ToLower(name))
		if err := os.WriteFile(logs[name], nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, name+"="+logs[name])
	}
	cmd.Env = append(cmd.Env,
		"PATH="+filepath.Join(root, "bin")+":/usr/bin:/bin",
		"IPKG_INSTROOT="+root,
		"UCI_CONFIG_DIR="+filepath.Join(root, "etc/config"))
	for iface, dev := range env.netdev {
		cmd.Env = append(cmd.Env, "TEST_NETDEV_"+iface+"="+dev)
	}
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("%s %s: %v, output %q", strings.Join(shell, " "), action, err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(logs[name])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	run := parseProcdLog(t, read("PROCD_LOG"))
	run.logged = read("LOGGER_LOG")
	run.files = splitLog(read("FS_LOG"))
	run.checked = splitLog(read("ARPD_LOG"))
	return run
}

// splitLog splits a stand-in's log into its lines, and each line into
// its words (separated by \037).
func splitLog(log string) [][]string {
	var lines [][]string
	for _, line := range strings.Split(log, "\n") {
		if line != "" {
			lines = append(lines, strings.Split(line, "\037"))
		}
	}
	return lines
}

// parseProcdLog replays the recorded procd calls.
func parseProcdLog(t *testing.T, log string) initRun {
	t.Helper()
	var run initRun
	var cur *procdInstance
	for _, w := range splitLog(log) {
		switch w[0] {
		case "open":
			if cur != nil {
				t.Fatalf("procd_open_instance %q inside instance %q", w[1], cur.name)
			}
			cur = &procdInstance{name: w[1], params: map[string][]string{}}
		case "reload-trigger", "interface-trigger":
			run.triggers = append(run.triggers, w)
			continue
		case "set", "append", "jail", "jail-mount", "jail-mount-rw", "close":
			if cur == nil {
				t.Fatalf("%q outside an instance", w)
			}
		default:
			t.Fatalf("unknown procd log line %q", w)
		}
		cur.calls = append(cur.calls, w)
		switch {
		case w[0] == "close":
			run.instances = append(run.instances, *cur)
			cur = nil
		case w[0] == "set" || w[0] == "append":
			cur.param(t, w)
		}
	}
	if cur != nil {
		t.Fatalf("instance %q never closed", cur.name)
	}
	return run
}

// param records one procd_set_param or procd_append_param call w.
func (in *procdInstance) param(t *testing.T, w []string) {
	t.Helper()
	if len(w) < 2 {
		t.Fatalf("procd_%s_param without a parameter name", w[0])
	}
	switch {
	case w[1] == "command" && w[0] == "set":
		in.command = append([]string{}, w[2:]...)
	case w[1] == "command":
		in.command = append(in.command, w[2:]...)
	case w[0] == "set":
		in.params[w[1]] = append([]string{}, w[2:]...)
	default:
		in.params[w[1]] = append(in.params[w[1]], w[2:]...)
	}
}

// readTestFile returns the text of a file of the repository.
func readTestFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
