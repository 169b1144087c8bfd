// Command gotk-kustomize-controller runs the Kustomization controller. It
// takes gotk-controller's flags.
package main

import (
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	kustomization.Register()
	manager.Main(controller.Binaries["kustomize"])
}
