package runtime

import (
	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns a zap-backed logr.Logger for the level and encoding of
// the options. "trace" logs what debug does and more (zap level -2).
func NewLogger(level, encoding string) logr.Logger {
	var lvl zapcore.Level
	switch level {
	case "trace":
		lvl = zapcore.Level(-2)
	case "debug":
		lvl = zapcore.DebugLevel
	case "error":
		lvl = zapcore.ErrorLevel
	default:
		lvl = zapcore.InfoLevel
	}
	opts := []zap.Opts{zap.Level(lvl), zap.StacktraceLevel(zapcore.PanicLevel)}
	if encoding == "console" {
		opts = append(opts, zap.ConsoleEncoder())
	} else {
		opts = append(opts, zap.JSONEncoder(func(c *zapcore.EncoderConfig) {
			c.TimeKey = "ts"
			c.EncodeTime = zapcore.ISO8601TimeEncoder
		}))
	}
	return zap.New(opts...)
}
