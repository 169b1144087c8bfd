package release

import (
	"os"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

// TestMain starts a real API server for the tests that run Helm actions;
// the pure tests (TestNext...) need none.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}
