// Command gotk-source-controller runs the source controller
// (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket) and,
// when --controllers names it, the ArtifactGenerator controller. It takes
// gotk-controller's flags.
package main

import (
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	source.Register()
	manager.Main(controller.Binaries["source"])
}
