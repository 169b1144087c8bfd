// Command gotk-helm-controller runs the HelmRelease controller. It takes
// gotk-controller's flags.
package main

import (
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	helmrelease.Register()
	manager.Main(controller.Binaries["helm"])
}
