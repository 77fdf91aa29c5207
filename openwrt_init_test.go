package main

// The procd calls of the OpenWrt init script (the harness is in
// openwrt_test.go): the exact sequence for the shipped config, then
// disabled sections, missing options, the family, the database paths the
// jail allows, interfaces that are down, the triggers, and bad values
// caught by the real binary's parser.

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shippedCommand is the command line of the shipped config with lan up.
var shippedCommand = []string{"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/arpd.db", "-a", "3", "-k",
	"-n", "60", "-R", "50", "-B", "1000", "-M", "32", "-C", "65536", "-p", "30", "--", "br-lan"}

// shippedCalls is the exact sequence of procd calls for the shipped config
// with lan up as br-lan.
var shippedCalls = [][]string{
	{"open", "main"},
	append([]string{"set", "command"}, shippedCommand...),
	{"set", "netdev", "br-lan"},
	{"set", "respawn"},
	{"set", "user", "arpd"},
	{"set", "group", "arpd"},
	{"set", "capabilities", "/etc/capabilities/arpd.json"},
	{"set", "no_new_privs", "1"},
	{"jail", "arpd", "log"},
	{"jail-mount-rw", "/var/lib/arpd"},
	{"close"},
}

// jailedCalls returns the procd calls the script makes for an instance
// name with command, served devices (none for every interface), database
// directory dir and procd_add_jail options jail.
func jailedCalls(name string, command, devices []string, dir string, jail ...string) [][]string {
	calls := [][]string{{"open", name}, append([]string{"set", "command"}, command...)}
	if len(devices) > 0 {
		calls = append(calls, append([]string{"set", "netdev"}, devices...))
	}
	return append(calls,
		[]string{"set", "respawn"},
		[]string{"set", "user", "arpd"},
		[]string{"set", "group", "arpd"},
		[]string{"set", "capabilities", "/etc/capabilities/arpd.json"},
		[]string{"set", "no_new_privs", "1"},
		append([]string{"jail", "arpd"}, jail...),
		[]string{"jail-mount-rw", dir},
		[]string{"close"})
}

// instanceMismatch compares the instances of run, by name, with want (the
// calls of each) and describes the first difference, "" when none.
func instanceMismatch(run initRun, want map[string][][]string) string {
	got := map[string][][]string{}
	for _, in := range run.instances {
		if _, dup := got[in.name]; dup {
			return "instance " + in.name + " started twice"
		}
		got[in.name] = in.calls
	}
	for name, calls := range want {
		if !reflect.DeepEqual(got[name], calls) {
			return "instance " + name + ":\n got " + quoteCalls(got[name]) + "\nwant " + quoteCalls(calls)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			return "instance " + name + " started, not wanted: " + quoteCalls(got[name])
		}
	}
	return ""
}

// quoteCalls formats procd calls one a line.
func quoteCalls(calls [][]string) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString("\n\t" + strings.Join(c, " | "))
	}
	return b.String()
}

// wantInstances fails t unless run started exactly the instances of want.
func wantInstances(t *testing.T, sh []string, run initRun, want map[string][][]string) {
	t.Helper()
	if m := instanceMismatch(run, want); m != "" {
		t.Errorf("%s: %s", sh, m)
	}
}

// TestOpenWrtInitShippedConfig runs the script on the config the package
// installs: the exact procd calls (every option its flag, lan as br-lan,
// jailed as arpd with its capabilities, the database directory the one
// writable mount), the directory made and given to arpd first, and the
// command line checked by arpd -V.
func TestOpenWrtInitShippedConfig(t *testing.T) {
	script, config := readTestFile(t, initScript), readTestFile(t, shippedConfig)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, "start", initEnv{config: config, netdev: map[string]string{"lan": "br-lan"}})
		wantInstances(t, sh, run, map[string][][]string{"main": shippedCalls})
		if run.logged != "" {
			t.Errorf("%s: logged %q with lan up", sh, run.logged)
		}
		wantFiles := [][]string{
			{"mkdir", "-p", "/var/lib/arpd"},
			{"chown", "arpd:arpd", "/var/lib/arpd"},
			{"chmod", "0750", "/var/lib/arpd"},
		}
		// NB: a database this host may hold at the default path is
		// chowned too (TestOpenWrtInitDatabaseFiles checks that).
		if len(run.files) < 3 || !reflect.DeepEqual(run.files[:3], wantFiles) {
			t.Errorf("%s: file commands %q, want %q first", sh, run.files, wantFiles)
		}
		wantChecked := [][]string{append([]string{"-V"}, shippedCommand[1:]...)}
		if !reflect.DeepEqual(run.checked, wantChecked) {
			t.Errorf("%s: arpd -V runs %q, want %q", sh, run.checked, wantChecked)
		}
	}
}

// TestOpenWrtInitDefaultsAndDisabled covers a disabled section (in both
// spellings UCI allows), a section of another type, a section with every
// option missing, an anonymous section, the kernel_broadcasts boolean and
// a database path with a space, which procd's jail mounts cannot take.
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
	option database '/srv/arpd/arpd.db'
	option kernel_broadcasts 'yes'
	option probes '2'

config arpd 'quiet'
	option enabled 'on'
	option kernel_broadcasts 'off'
	option rate '0.5'
	option database '/var/lib/arpd/quiet.db'
	list device 'eth1'
	list device 'eth2'

config arpd 'spaced'
	option database '/srv/arpd/with space.db'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, "start", initEnv{config: config, netdev: map[string]string{"lan": "br-lan"}})
		wantInstances(t, sh, run, map[string][][]string{
			"bare": jailedCalls("bare", []string{"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/arpd.db", "--", "br-lan"},
				[]string{"br-lan"}, "/var/lib/arpd", "log"),
			"cfg1": jailedCalls("cfg1", []string{"/usr/sbin/arpd", "-F", "-b", "/srv/arpd/arpd.db", "-a", "2"},
				nil, "/srv/arpd", "log", "procfs"),
			"quiet": jailedCalls("quiet", []string{"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/quiet.db", "-k", "-R", "0.5",
				"--", "eth1", "eth2"}, []string{"eth1", "eth2"}, "/var/lib/arpd", "log"),
		})
		want := "-t arpd -p daemon.err spaced: database '/srv/arpd/with space.db': the jail takes no path with spaces\n"
		if run.logged != want {
			t.Errorf("%s: logged %q, want %q", sh, run.logged, want)
		}
	}
}

// TestOpenWrtInitFamily checks that family becomes -4 or -6, or no flag
// for both, and that any other value is logged and starts nothing.
func TestOpenWrtInitFamily(t *testing.T) {
	config := `
config arpd 'four'
	option family 'ipv4'
	option database '/var/lib/arpd/four.db'

config arpd 'six'
	option family 'ipv6'
	option database '/var/lib/arpd/six.db'

config arpd 'both'
	option family 'both'
	option database '/var/lib/arpd/both.db'

config arpd 'bad'
	option family 'IPv4'
	option database '/var/lib/arpd/bad.db'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, "start", initEnv{config: config})
		cmd := func(db string, flags ...string) []string {
			return append([]string{"/usr/sbin/arpd", "-F", "-b", "/var/lib/arpd/" + db}, flags...)
		}
		wantInstances(t, sh, run, map[string][][]string{
			"four": jailedCalls("four", cmd("four.db", "-4"), nil, "/var/lib/arpd", "log"),
			"six":  jailedCalls("six", cmd("six.db", "-6"), nil, "/var/lib/arpd", "log"),
			"both": jailedCalls("both", cmd("both.db"), nil, "/var/lib/arpd", "log"),
		})
		want := "-t arpd -p daemon.err bad: family 'IPv4' is none of ipv4, ipv6, both\n"
		if run.logged != want {
			t.Errorf("%s: logged %q, want %q", sh, run.logged, want)
		}
	}
}

// TestOpenWrtInitDatabasePaths checks the database directory the jail
// mounts writable: a directory of its own, /proc added off tmpfs (for the
// read-only mapping JFFS2 needs), and the paths refused: a shared
// directory such as /etc or /tmp, a relative path, a directory alone.
func TestOpenWrtInitDatabasePaths(t *testing.T) {
	config := `
config arpd 'flash'
	option database '/etc/arpd/arpd.db'

config arpd 'usb'
	option database '/mnt/usb/arpd/arpd.db'

config arpd 'tmp'
	option database '/tmp/arpd/arpd.db'

config arpd 'etc'
	option database '/etc/arpd.db'

config arpd 'tmptop'
	option database '/tmp/arpd.db'

config arpd 'relative'
	option database 'arpd/arpd.db'

config arpd 'slash'
	option database '/var/lib/arpd/'
`
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, "start", initEnv{config: config})
		cmd := func(db string) []string { return []string{"/usr/sbin/arpd", "-F", "-b", db} }
		wantInstances(t, sh, run, map[string][][]string{
			"flash": jailedCalls("flash", cmd("/etc/arpd/arpd.db"), nil, "/etc/arpd", "log", "procfs"),
			"usb":   jailedCalls("usb", cmd("/mnt/usb/arpd/arpd.db"), nil, "/mnt/usb/arpd", "log", "procfs"),
			"tmp":   jailedCalls("tmp", cmd("/tmp/arpd/arpd.db"), nil, "/tmp/arpd", "log"),
		})
		var want strings.Builder
		for _, s := range [][2]string{{"etc", "/etc/arpd.db"}, {"tmptop", "/tmp/arpd.db"},
			{"relative", "arpd/arpd.db"}, {"slash", "/var/lib/arpd/"}} {
			want.WriteString("-t arpd -p daemon.err " + s[0] + ": database '" + s[1] +
				"' must be an absolute path in a directory of its own, such as /var/lib/arpd/arpd.db\n")
		}
		if run.logged != want.String() {
			t.Errorf("%s: logged %q, want %q", sh, run.logged, want.String())
		}
	}
}

// TestOpenWrtInitDatabaseFiles checks that the database and its rebuild
// file, where they exist (made by an earlier arpd run as root), are given
// to the service user with their directory, and nothing else in it.
func TestOpenWrtInitDatabaseFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"arpd.db", "arpd.db.new", "other"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "arpd.db")
	config := "config arpd 'main'\n\toption database '" + db + "'\n"
	script := readTestFile(t, initScript)
	for _, sh := range openwrtShells(t) {
		run := runInit(t, sh, script, "start", initEnv{config: config})
		want := [][]string{
			{"mkdir", "-p", dir},
			{"chown", "arpd:arpd", dir},
			{"chmod", "0750", dir},
			{"chown", "arpd:arpd", db},
			{"chown", "arpd:arpd", db + ".new"},
		}
		if !reflect.DeepEqual(run.files, want) {
			t.Errorf("%s: file commands %q, want %q", sh, run.files, want)
		}
		if len(run.instances) != 1 {
			t.Errorf("%s: %d instances, want 1 (logged %q)", sh, len(run.instances), run.logged)
		}
	}
}
