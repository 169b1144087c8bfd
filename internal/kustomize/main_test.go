package kustomize

import (
	"flag"
	"os"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv"
)

// env is the control plane that the ClientVarSource tests read from; nil
// while fuzzing.
var env *testenv.Env

// TestMain starts a control plane, except for fuzzing: every fuzz worker
// runs TestMain, and the fuzz target needs no API server.
func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() {
		os.Exit(m.Run())
	}
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}

func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// needEnv skips t in the unit tier (-short) and fails it when the
// control plane was not started otherwise.
func needEnv(t *testing.T) {
	t.Helper()
	if env == nil {
		testenv.Require(t)
		t.Fatal("no control plane while fuzzing: fuzz with -run '^$'")
	}
}
