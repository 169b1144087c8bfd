package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command, the generated completion commands included, shows
// examples in its --help.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newCLI(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}).rootCmd()
	var walk func(*cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		seen++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if seen < 10 {
		t.Errorf("walked only %d commands", seen)
	}
	r := gotk(t, "", "install", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "--kubeconfig") ||
		!strings.Contains(r.stdout, `-n, --namespace string`) || !strings.Contains(r.stdout, `(default "gotk-system")`) {
		t.Errorf("install --help:\n%s", r)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := gotk(t, "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "gotk") || len(r.stdout) < 500 {
			t.Errorf("completion %s:\n%.300s", shell, r)
		}
	}
	var out, errOut bytes.Buffer
	code := run([]string{"__complete", "install", "--components", ""}, strings.NewReader(""), &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "notification\n") {
		t.Errorf("completing --components: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

func TestColorOnlyOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newPrinter(&buf)
	p.ok("fine")
	p.progress("waiting")
	p.progress("still waiting")
	if buf.String() != "✔ fine\n◎ waiting\n◎ still waiting\n" {
		t.Errorf("plain output %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if colorAllowed(f) || isTerminal(f) {
		t.Errorf("a file is no terminal")
	}
	// On a terminal, NO_COLOR still turns colors off.
	p = &printer{w: &buf, tty: true, color: true}
	buf.Reset()
	p.progress("a")
	p.progress("b")
	p.ok("done")
	if want := "\r\x1b[K\x1b[34m◎\x1b[0m a\r\x1b[K\x1b[34m◎\x1b[0m b\r\x1b[K\x1b[32m✔\x1b[0m done\n"; buf.String() != want {
		t.Errorf("terminal output %q, want %q", buf.String(), want)
	}
	t.Setenv("NO_COLOR", "1")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if colorAllowed(tty) {
			t.Errorf("NO_COLOR is set, yet colors are allowed on a terminal")
		}
	}
}
