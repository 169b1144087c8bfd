// Package version holds the version gotk's binaries were built as; the
// Makefile sets it with -ldflags.
package version

import "runtime/debug"

// Version is set at build time; "dev" for a plain `go build`.
var Version = "dev"

// String returns Version, or the module version when built with go install.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}
