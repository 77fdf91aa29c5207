package main

// The man page, doc/arpd.8: it must cover every option, signal and sysctl
// the daemon has, and format without warnings.

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// manPage is the man page's source.
const manPage = "doc/arpd.8"

// TestManPageCoversEverything checks that every option letter of the
// parser is documented as a tagged paragraph or in the synopsis, and that
// the signals, sysctls and default database are named.
func TestManPageCoversEverything(t *testing.T) {
	b, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for c, takesArg := range optionTakesArg {
		// An option paragraph: ".B \-l", ".BI \-f " file"", ".BR \-h ", " \-?".
		macro := `\.BR?I? `
		if takesArg {
			macro = `\.BI `
		}
		re := regexp.MustCompile(`(?m)^\.TP\n` + macro + `(\S+ ", " )?\\-` + regexp.QuoteMeta(string(rune(c))))
		if !re.MatchString(src) {
			t.Errorf("option -%c has no .TP paragraph of its own in %s", c, manPage)
		}
		// And the synopsis, where a flag without argument sits in the
		// cluster and one with an argument has a bracket of its own.
		syn := src[strings.Index(src, ".SH SYNOPSIS"):strings.Index(src, ".SH DESCRIPTION")]
		var ok bool
		if takesArg {
			ok = strings.Contains(syn, ".RB [ \\-"+string(rune(c))+"\n")
		} else {
			m := regexp.MustCompile(`\.RB \[ \\-([a-zA-Z0-9?]+) \]`).FindStringSubmatch(syn)
			ok = m != nil && strings.ContainsRune(m[1], rune(c))
		}
		if !ok {
			t.Errorf("option -%c is missing from the synopsis", c)
		}
	}
	for _, word := range []string{"SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1",
		"app_solicit", "mcast_solicit", "/proc/sys/net/ipv4/neigh/", "/proc/sys/net/ipv6/neigh/", defaultDB,
		"CAP_NET_ADMIN", "CAP_NET_RAW", "/dev/log"} {
		if !strings.Contains(src, word) {
			t.Errorf("%s does not mention %s", manPage, word)
		}
	}
}

// TestManPageFormats formats the page with groff (all warnings on) and
// checks it with mandoc -Tlint, where they are installed: any message
// fails the test.
func TestManPageFormats(t *testing.T) {
	ran := false
	for _, argv := range [][]string{
		{"groff", "-man", "-Tutf8", "-ww", "-z", manPage},
		{"mandoc", "-Tlint", "-W", "warning", manPage},
	} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		ran = true
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	if !ran {
		t.Skip("neither groff nor mandoc is installed")
	}
}
