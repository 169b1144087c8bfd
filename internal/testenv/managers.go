package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// RunManagers is Run for a package whose tests need controllers running:
// after the control plane, start starts them with a context that ends,
// and then wg is waited for, before the control plane stops, so that
// nothing holds the API server's connections open while it shuts down.
func RunManagers(m *testing.M, set func(*Env), start func(ctx context.Context, wg *sync.WaitGroup, e *Env) error, opts ...Option) int {
	if Short() {
		return m.Run()
	}
	e, err := Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	set(e)
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	if err := start(ctx, &wg, e); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	cancel()
	wg.Wait()
	return code
}

// SetLogger sends the controllers' logs to standard error: errors only,
// everything with GOTK_TEST_LOG set.
func SetLogger() {
	level := zapcore.ErrorLevel
	if os.Getenv("GOTK_TEST_LOG") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
}
