package main

// The OpenWrt package beyond the start sequence: interfaces that are down,
// the triggers, that the checks of the init script can fail, bad config
// values caught by the real binary's parser, and the capabilities file,
// user and install rules the package Makefile and the script share.

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"arpd/internal/labtest"
)

// capabilitiesFile is the file the package installs as
// /etc/capabilities/arpd.json.
const capabilitiesFile = "openwrt/files/arpd.json"

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
		run := runInit(t, sh, script, "start", initEnv{config: config, netdev: map[string]string{"lan": "br-lan"}})
		wantInstances(t, sh, run, map[string][][]string{
			"some": jailedCalls("some", []string{"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/some.db", "--", "br-lan", "eth9"},
				[]string{"br-lan", "eth9"}, "/var/lib/arpd", "log"),
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
		run := runInit(t, sh, script, "triggers", initEnv{config: config})
		want := [][]string{
			{"reload-trigger", "arpd"},
			{"interface-trigger", "lan"},
			{"interface-trigger", "guest"},
			{"interface-trigger", "iot"},
		}
		if !reflect.DeepEqual(run.triggers, want) {
			t.Errorf("%s: triggers %q, want %q", sh, run.triggers, want)
		}
		if len(run.instances) != 0 || len(run.files) != 0 {
			t.Errorf("%s: service_triggers started %d instances, ran %q", sh, len(run.instances), run.files)
		}
	}
}

// TestOpenWrtInitCheckCanFail runs copies of the script, each with one
// line removed (a flag, the jail, a privilege setting, netdev), and
// checks that the comparison of TestOpenWrtInitShippedConfig then fails.
func TestOpenWrtInitCheckCanFail(t *testing.T) {
	script := readTestFile(t, initScript)
	config := readTestFile(t, shippedConfig)
	sh := openwrtShells(t)[0]
	for _, line := range []string{
		`set -- "$@" -k`,
		`procd_set_param no_new_privs 1`,
		`procd_set_param capabilities "$CAPABILITIES"`,
		`procd_add_jail_mount_rw "$dir"`,
		`procd_set_param netdev $devices`,
		`procd_set_param user "$ARPD_USER"`,
	} {
		var kept []string
		removed := 0
		for _, l := range strings.Split(script, "\n") {
			if strings.Contains(l, line) {
				removed++
				continue
			}
			kept = append(kept, l)
		}
		if removed != 1 {
			t.Fatalf("found %q %d times, want once", line, removed)
		}
		run := runInit(t, sh, strings.Join(kept, "\n"), "start",
			initEnv{config: config, netdev: map[string]string{"lan": "br-lan"}})
		if instanceMismatch(run, map[string][][]string{"main": shippedCalls}) == "" {
			t.Errorf("without %q the procd calls still match", line)
		}
	}
}

// TestOpenWrtInitRealBinary runs the script with the real binary as the
// checker: the shipped config passes its parser, and each bad value is
// logged once with its section and starts nothing.
func TestOpenWrtInitRealBinary(t *testing.T) {
	bin := labtest.Binary(t)
	script := readTestFile(t, initScript)
	sh := openwrtShells(t)[0]
	run := runInit(t, sh, script, "start",
		initEnv{config: readTestFile(t, shippedConfig), netdev: map[string]string{"lan": "br-lan"}, arpd: bin})
	wantInstances(t, sh, run, map[string][][]string{"main": shippedCalls})
	if run.logged != "" {
		t.Errorf("shipped config: logged %q", run.logged)
	}

	bad := map[string]string{"rate": "0", "probes": "256", "capacity": "10",
		"sync_interval": "0.01", "claims_per_minute": "many", "negative_timeout": "-1", "burst": "1e3"}
	var config strings.Builder
	for option, value := range bad {
		config.WriteString("config arpd '" + option + "'\n\toption " + option + " '" + value +
			"'\n\toption database '/var/lib/arpd/" + option + ".db'\n\n")
	}
	run = runInit(t, sh, script, "start", initEnv{config: config.String(), arpd: bin})
	if len(run.instances) != 0 || len(run.files) != 0 {
		t.Errorf("bad values: %d instances started, files %q", len(run.instances), run.files)
	}
	lines := strings.Split(strings.TrimSuffix(run.logged, "\n"), "\n")
	if len(lines) != len(bad) {
		t.Fatalf("logged %d lines, want %d: %q", len(lines), len(bad), run.logged)
	}
	for _, l := range lines {
		option, rest, _ := strings.Cut(strings.TrimPrefix(l, "-t arpd -p daemon.err "), ": ")
		value, ok := bad[option]
		if !ok || !strings.HasPrefix(rest, "not started: arpd: ") || !strings.Contains(rest, `"`+value+`"`) {
			t.Errorf("logged %q: want section, \"not started: arpd: \" and the value", l)
		}
	}
}

// TestOpenWrtCapabilities checks the capabilities file procd's jail
// applies: CAP_NET_ADMIN and CAP_NET_RAW in every set and nothing else.
// NB: the kernel raises an ambient capability only when it is in the
// permitted and the inheritable sets, so the file names the inheritable
// set too: without it ujail's PR_CAP_AMBIENT_RAISE fails with EPERM.
func TestOpenWrtCapabilities(t *testing.T) {
	var sets map[string][]string
	if err := json.Unmarshal([]byte(readTestFile(t, capabilitiesFile)), &sets); err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}
	for _, name := range []string{"bounding", "effective", "permitted", "inheritable", "ambient"} {
		if !reflect.DeepEqual(sets[name], want) {
			t.Errorf("%s: %q, want %q", name, sets[name], want)
		}
		delete(sets, name)
	}
	if len(sets) != 0 {
		t.Errorf("unknown sets %q", sets)
	}
}

// TestOpenWrtPackageNames checks that the Makefile and the init script
// agree: the capabilities file's installed path, the user the package
// creates and the one procd runs the daemon as.
func TestOpenWrtPackageNames(t *testing.T) {
	mk, script := readTestFile(t, "openwrt/Makefile"), readTestFile(t, initScript)
	for _, want := range []string{
		"\t$(INSTALL_DATA) ./files/arpd.json $(1)/etc/capabilities/arpd.json\n",
		"\n  USERID:=arpd:arpd\n",
	} {
		if !strings.Contains(mk, want) {
			t.Errorf("openwrt/Makefile lacks %q", want)
		}
	}
	for _, want := range []string{"\nCAPABILITIES=/etc/capabilities/arpd.json\n", "\nARPD_USER=arpd\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("%s lacks %q", initScript, want)
		}
	}
}
