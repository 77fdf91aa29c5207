package main

// The OpenWrt init script, run by /bin/sh (and by busybox sh, OpenWrt's own
// shell, where installed) against stand-ins for rc.common, the UCI
// functions, procd's helpers and the network functions. The stand-ins
// record every procd call, and the tests check the exact command line
// each instance gets.

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
)

// procdInstance is what one procd_open_instance ... procd_close_instance
// block set up.
type procdInstance struct {
	name    string
	command []string
	params  map[string][]string // every other parameter, last value
}

// initRun is the result of one run of the init script.
type initRun struct {
	instances []procdInstance
	triggers  [][]string // reload and interface triggers, in order
	logged    string     // what went to logger
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

// runInit runs the init script (its text given, so that a test can run a
// changed copy) with action ("start" or "triggers") under shell, with the
// UCI file config and the logical interfaces of netdev up.
func runInit(t *testing.T, shell []string, script, config, action string, netdev map[string]string) initRun {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/rc.common":            standinRC,
		"lib/functions.sh":         standinFunctions,
		"lib/functions/procd.sh":   standinProcd,
		"lib/functions/network.sh": standinNetwork,
		"etc/config/arpd":          config,
		"bin/logger":               standinLogger,
		"etc/init.d/arpd":          script,
		"procd.log":                "",
		"logger.log":               "",
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
	args := append(append([]string{}, shell[1:]...),
		filepath.Join(root, "etc/rc.common"), filepath.Join(root, "etc/init.d/arpd"), action)
	cmd := exec.Command(shell[0], args...)
	cmd.Env = []string{
		"PATH=" + filepath.Join(root, "bin") + ":/usr/bin:/bin",
		"IPKG_INSTROOT=" + root,
		"UCI_CONFIG_DIR=" + filepath.Join(root, "etc/config"),
		"PROCD_LOG=" + filepath.Join(root, "procd.log"),
		"LOGGER_LOG=" + filepath.Join(root, "logger.log"),
	}
	for iface, dev := range netdev {
		cmd.Env = append(cmd.Env, "TEST_NETDEV_"+iface+"="+dev)
	}
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("%s %s: %v, output %q", strings.Join(shell, " "), action, err, out)
	}
	log, err := os.ReadFile(filepath.Join(root, "procd.log"))
	if err != nil {
		t.Fatal(err)
	}
	logged, err := os.ReadFile(filepath.Join(root, "logger.log"))
	if err != nil {
		t.Fatal(err)
	}
	return parseProcdLog(t, string(log), string(logged))
}

// parseProcdLog replays the recorded procd calls.
func parseProcdLog(t *testing.T, log, logged string) initRun {
	t.Helper()
	run := initRun{logged: logged}
	var cur *procdInstance
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if line == "" {
			continue
		}
		w := strings.Split(line, "\037")
		switch w[0] {
		case "open":
			if cur != nil {
				t.Fatalf("procd_open_instance %q inside instance %q", w[1], cur.name)
			}
			cur = &procdInstance{name: w[1], params: map[string][]string{}}
		case "set", "append":
			if cur == nil {
				t.Fatalf("procd_%s_param outside an instance: %q", w[0], w[1:])
			}
			if len(w) < 2 {
				t.Fatalf("procd_%s_param without a parameter name", w[0])
			}
			switch {
			case w[1] == "command" && w[0] == "set":
				cur.command = append([]string{}, w[2:]...)
			case w[1] == "command":
				cur.command = append(cur.command, w[2:]...)
			case w[0] == "set":
				cur.params[w[1]] = append([]string{}, w[2:]...)
			default:
				cur.params[w[1]] = append(cur.params[w[1]], w[2:]...)
			}
		case "close":
			if cur == nil {
				t.Fatal("procd_close_instance without an instance")
			}
			run.instances = append(run.instances, *cur)
			cur = nil
		case "reload-trigger", "interface-trigger":
			run.triggers = append(run.triggers, w)
		default:
			t.Fatalf("unknown procd log line %q", line)
		}
	}
	if cur != nil {
		t.Fatalf("instance %q never closed", cur.name)
	}
	return run
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

// wantInstances checks the instances' names and command lines, and that
// each respawns and sends stderr to the log.
func wantInstances(t *testing.T, run initRun, want map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	for _, in := range run.instances {
		if _, dup := got[in.name]; dup {
			t.Errorf("instance %q started twice", in.name)
		}
		got[in.name] = in.command
		if _, ok := in.params["respawn"]; !ok {
			t.Errorf("instance %q: no procd_set_param respawn", in.name)
		}
		if s := in.params["stderr"]; !reflect.DeepEqual(s, []string{"1"}) {
			t.Errorf("instance %q: stderr param %q, want [1]", in.name, s)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("instances and command lines:\n got %q\nwant %q", got, want)
	}
}

// TestOpenWrtInitShippedConfig runs the script on the config the package
// installs: every option becomes its flag, and lan becomes br-lan.
func TestOpenWrtInitShippedConfig(t *testing.T) {
	script, config := readTestFile(t, initScript), readTestFile(t, shippedConfig)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, config, "start", map[string]string{"lan": "br-lan"})
		wantInstances(t, run, map[string][]string{
			"main": {"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/arpd.db", "-a", "3", "-k",
				"-n", "60", "-R", "50", "-B", "1000", "-M", "32", "-C", "65536", "-p", "30", "--", "br-lan"},
		})
		if run.logged != "" {
			t.Errorf("%s: logged %q with lan up", sh, run.logged)
		}
	}
}

// TestOpenWrtInitDefaultsAndDisabled covers a disabled section (in both
// spellings UCI allows), a section with every option missing, an
// anonymous section, and the kernel_broadcasts boolean.
func TestOpenWrtInitDefaultsAndDisabled(t *testing.T) {
	config := `
config arpd 'off'
	option enabled '0'
	list interface 'lan'
	option probes '5'

config arpd 'no'
	option enabled 'no'
	list device 'eth3'

config other 'notours'
	option enabled '1'
	list interface 'lan'

config arpd 'bare'
	list interface 'lan'

config arpd
	option database '/srv/arpd/with space.db'
	option kernel_broadcasts 'yes'
	option probes '2'

config arpd 'quiet'
	option enabled 'on'
	option kernel_broadcasts 'off'
	option rate '0.5'
	list device 'eth1'
	list device 'eth2'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, config, "start", map[string]string{"lan": "br-lan"})
		wantInstances(t, run, map[string][]string{
			"bare": {"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/arpd.db", "--", "br-lan"},
			"cfg1": {"/usr/sbin/arpd", "-F", "-b", "/srv/arpd/with space.db", "-a", "2"},
			"quiet": {"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/arpd.db", "-k", "-R", "0.5",
				"--", "eth1", "eth2"},
		})
	}
}

// TestOpenWrtInitInterfaceDown checks that an interface without a device
// yet is left out and logged, and that a section whose interfaces are all
// down starts nothing (arpd without interfaces would serve them all).
func TestOpenWrtInitInterfaceDown(t *testing.T) {
	config := `
config arpd 'some'
	list interface 'lan'
	list interface 'guest'
	list device 'eth9'
	option database '/var/lib/arpd/some.db'

config arpd 'none'
	list interface 'guest'
	option database '/var/lib/arpd/none.db'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, config, "start", map[string]string{"lan": "br-lan"})
		wantInstances(t, run, map[string][]string{
			"some": {"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/some.db", "--", "br-lan", "eth9"},
		})
		want := "-t arpd -p daemon.notice some: no device yet for: guest\n" +
			"-t arpd -p daemon.notice none: no device yet for: guest\n"
		if run.logged != want {
			t.Errorf("%s: logged %q, want %q", sh, run.logged, want)
		}
	}
}

// TestOpenWrtInitTriggers checks that the script reloads on a change of
// its UCI config and on a change of each logical interface it serves.
func TestOpenWrtInitTriggers(t *testing.T) {
	config := readTestFile(t, shippedConfig) + `
config arpd 'second'
	list interface 'guest'
	list interface 'iot'
	list device 'eth5'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, config, "triggers", nil)
		want := [][]string{
			{"reload-trigger", "arpd"},
			{"interface-trigger", "lan"},
			{"interface-trigger", "guest"},
			{"interface-trigger", "iot"},
		}
		if !reflect.DeepEqual(run.triggers, want) {
			t.Errorf("%s: triggers %q, want %q", sh, run.triggers, want)
		}
		if len(run.instances) != 0 {
			t.Errorf("%s: service_triggers started %d instances", sh, len(run.instances))
		}
	}
}

// TestOpenWrtInitCheckCanFail runs a copy of the script with the -k line
// removed and checks that the command line then differs: the comparison
// above would catch such a change.
func TestOpenWrtInitCheckCanFail(t *testing.T) {
	script := readTestFile(t, initScript)
	var kept []string
	removed := 0
	for _, line := range strings.Split(script, "\n") {
		if strings.Contains(line, "procd_append_param command -k") {
			removed++
			continue
		}
		kept = append(kept, line)
	}
	if removed != 1 {
		t.Fatalf("found the -k line %d times, want once", removed)
	}
	config := readTestFile(t, shippedConfig)
	sh := openwrtShells(t)[0]
	run := runInit(t, sh, strings.Join(kept, "\n"), config, "start", map[string]string{"lan": "br-lan"})
	if len(run.instances) != 1 {
		t.Fatalf("%d instances, want 1", len(run.instances))
	}
	for _, a := range run.instances[0].command {
		if a == "-k" {
			t.Fatalf("-k still on the command line %q of the changed script", run.instances[0].command)
		}
	}
}
