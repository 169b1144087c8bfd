// Command gotk-controller runs every controller of gotk in one manager;
// --controllers picks which. gotk install runs each controller from its
// own binary (gotk-source-controller, gotk-kustomize-controller,
// gotk-helm-controller, gotk-notification-controller), which takes the
// same flags; this one serves an --all-in-one install and local runs.
package main

import (
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/notification"
	"github.com/gotk-dev/gotk/internal/controller/receiver"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	controller.RegisterConfig("source", source.DefaultConfig())
	controller.Register("artifactgenerator", source.SetupArtifactGenerator)
	controller.Register("kustomize", kustomization.Setup)
	controller.RegisterConfig("notification", receiver.DefaultConfig())
	controller.RegisterConfig("notification", notification.DefaultConfig())
	controller.Register("helm", helmrelease.Setup)
	manager.Main(controller.AllInOne)
}
