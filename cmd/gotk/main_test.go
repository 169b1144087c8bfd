package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env        *testenv.Env
	kubeconfig string
	update     = flag.Bool("update", false, "rewrite the golden files in testdata/")
)

// The control plane starts without CRDs: gotk install puts them in. The
// object commands use a second one (see objects).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gotk-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := testenv.Run(m, func(e *testenv.Env) {
		env = e
		kubeconfig, err = e.Kubeconfig(dir)
		if err != nil {
			panic(fmt.Sprintf("write kubeconfig: %v", err))
		}
	}, testenv.WithoutCRDs())
	stopObjects()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one in-process run of gotk printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// gotk runs the CLI in-process against the test control plane, with stdin
// as its input.
func gotk(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig="+kubeconfig)
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
