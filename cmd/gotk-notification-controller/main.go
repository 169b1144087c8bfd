// Command gotk-notification-controller runs the notification controller:
// the event server, Alerts, Providers and Receivers. It takes
// gotk-controller's flags.
package main

import (
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/notification"
	"github.com/gotk-dev/gotk/internal/manager"
)

func main() {
	notification.Register()
	manager.Main(controller.Binaries["notification"])
}
