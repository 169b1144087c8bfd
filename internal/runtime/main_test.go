package runtime

import (
	"os"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}
