// Package notification sets up the notification controller's event side:
// the server that receives the events every controller posts to
// --events-addr, the Dispatcher that forwards them to the Providers of the
// Alerts that select them, and the Alert and Provider reconcilers. The
// Receivers' webhook server registers its own setup under the same
// controller name.
package notification

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/alert"
	"github.com/gotk-dev/gotk/internal/controller/provider"
	"github.com/gotk-dev/gotk/internal/controller/receiver"
)

// Defaults of the notification controller's flags.
const (
	DefaultEventsListenAddr  = ":9690"
	DefaultRateLimitInterval = 5 * time.Minute
)

// Config holds the flags of the notification controller's event side.
type Config struct {
	// EventsListenAddr is where the event server listens.
	EventsListenAddr string
	// RateLimitInterval is how long a repeat of an event (same object,
	// message and revision) is refused with 429.
	RateLimitInterval time.Duration
	// AllowLinkLocal lets Providers deliver to link-local addresses.
	AllowLinkLocal bool

	// Server is the event server, once Setup ran.
	Server *EventServer
}

// Register registers the "notification" controller for the binaries that
// hold it: the Receiver webhook server, and the event server with the
// Alert and Provider reconcilers, each with its flags.
func Register() {
	controller.RegisterConfig("notification", receiver.DefaultConfig())
	controller.RegisterConfig("notification", DefaultConfig())
}

// DefaultConfig returns the defaults of the flags.
func DefaultConfig() *Config {
	return &Config{EventsListenAddr: DefaultEventsListenAddr, RateLimitInterval: DefaultRateLimitInterval}
}

// BindFlags registers the flags on fs.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.EventsListenAddr, "events-listen-addr", c.EventsListenAddr,
		"Address the notification controller receives events on (what the controllers' --events-addr points at).")
	fs.DurationVar(&c.RateLimitInterval, "rate-limit-interval", c.RateLimitInterval,
		"How long the notification controller refuses a repeat of an event (same object, message and revision) with 429; 0 turns it off.")
	fs.BoolVar(&c.AllowLinkLocal, "allow-link-local-provider-addresses", c.AllowLinkLocal,
		"Let Providers deliver to link-local addresses (169.254.0.0/16, fe80::/10), where clouds serve instance metadata.")
}

// Validate reports flag values that cannot work.
func (c *Config) Validate() error {
	if c.RateLimitInterval < 0 {
		return fmt.Errorf("invalid flags: --rate-limit-interval must not be negative, not %s", c.RateLimitInterval)
	}
	if c.EventsListenAddr == "" {
		return fmt.Errorf("invalid flags: --events-listen-addr must be set")
	}
	return nil
}

// Setup adds the event server, the Alert and the Provider reconcilers; the
// events of the controllers of this process go to the server directly.
func (c *Config) Setup(mgr ctrl.Manager, deps controller.Deps) error {
	opts := deps.Options
	settings := provider.Settings{AllowLinkLocal: c.AllowLinkLocal}
	if err := alert.IndexAlerts(mgr); err != nil {
		return err
	}
	p := &provider.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Metrics: deps.Metrics, Settings: settings}
	if err := p.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	a := &alert.Reconciler{Client: mgr.GetClient(), Metrics: deps.Metrics, NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs}
	if err := a.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	d := &Dispatcher{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Settings:             settings,
		NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs,
		Log:                  mgr.GetLogger().WithName("notification"),
	}
	c.Server = NewEventServer(c.EventsListenAddr, c.RateLimitInterval, d, mgr.GetLogger().WithName("events-server"))
	if deps.Recorder != nil {
		// The controllers of this process hand their events to the server
		// without the network.
		deps.Recorder.DeliverLocally(c.Server.Accept)
	}
	return mgr.Add(c.Server)
}
