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
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	source.Register()
	kustomization.Register()
	notification.Register()
	helmrelease.Register()
	manager.Main(controller.AllInOne)
}
