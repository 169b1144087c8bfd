package receiver

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	gotkcontroller "github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/receiver"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// secretIndex indexes Receivers by the Secret they read the token from.
const secretIndex = ".spec.secretRef.name"

// Config holds the flags of the webhook server.
type Config struct {
	// Addr is where the webhook server listens (--receiver-addr).
	Addr string
	// MaxBodySize caps a webhook's body (--receiver-max-body-size).
	MaxBodySize int64
	// ReplayWindow is how long a signed delivery is remembered to refuse
	// its replay (--receiver-replay-window); zero turns that off.
	ReplayWindow time.Duration
}

// DefaultConfig returns the defaults of the webhook server's flags.
func DefaultConfig() *Config {
	return &Config{
		Addr:         receiver.DefaultAddr,
		MaxBodySize:  receiver.DefaultMaxBodySize,
		ReplayWindow: receiver.DefaultReplayWindow,
	}
}

// BindFlags registers the webhook server's flags on fs.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Addr, "receiver-addr", c.Addr, "Address the Receiver webhook server listens on.")
	fs.Int64Var(&c.MaxBodySize, "receiver-max-body-size", c.MaxBodySize,
		"Largest webhook body, in bytes, that the Receiver server reads; larger ones get 413.")
	fs.DurationVar(&c.ReplayWindow, "receiver-replay-window", c.ReplayWindow,
		"How long the Receiver server remembers a signed delivery (github, generic-hmac, bitbucket, nexus) to refuse it if it comes again; 0 turns this off.")
}

// Validate reports flag values that cannot work.
func (c *Config) Validate() error {
	if c.MaxBodySize <= 0 {
		return fmt.Errorf("invalid flags: --receiver-max-body-size must be positive, not %d", c.MaxBodySize)
	}
	if c.ReplayWindow < 0 {
		return fmt.Errorf("invalid flags: --receiver-replay-window must not be negative, not %s", c.ReplayWindow)
	}
	return nil
}

// Setup adds the Receiver reconciler and the webhook server to mgr.
func (c *Config) Setup(mgr ctrl.Manager, deps gotkcontroller.Deps) error {
	if err := c.Validate(); err != nil {
		return err
	}
	r := &Reconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Recorder:             deps.Recorder,
		Metrics:              deps.Metrics,
		NoCrossNamespaceRefs: deps.Options.NoCrossNamespaceRefs,
		TokenRequeue:         deps.Options.RequeueDependency,
	}
	if err := r.SetupWithManager(mgr, deps.Options); err != nil {
		return err
	}
	return mgr.Add(&receiver.Server{
		Addr:                 c.Addr,
		Client:               mgr.GetClient(),
		Reader:               mgr.GetAPIReader(),
		MaxBodySize:          c.MaxBodySize,
		ReplayWindow:         c.ReplayWindow,
		NoCrossNamespaceRefs: deps.Options.NoCrossNamespaceRefs,
		Log:                  mgr.GetLogger().WithName("receiver-server"),
	})
}

// SetupWithManager registers the reconciler, the index the webhook server
// looks Receivers up by, and the watch on the token Secrets that the
// config watchers follow.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &notificationv1.Receiver{}, receiver.WebhookPathIndex, receiver.IndexWebhookPath); err != nil {
		return fmt.Errorf("index %s: %w", receiver.WebhookPathIndex, err)
	}
	if err := indexer.IndexField(ctx, &notificationv1.Receiver{}, secretIndex, func(o client.Object) []string {
		if ref := o.(*notificationv1.Receiver).Spec.SecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index %s: %w", secretIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&notificationv1.Receiver{}, builder.WithPredicates(pred)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent})
	if !opts.DisableConfigWatchers {
		b = b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretUsers))
	}
	return b.Complete(r)
}

// secretUsers lists the Receivers that read their token from secret.
func (r *Reconciler) secretUsers(ctx context.Context, secret client.Object) []reconcile.Request {
	list := &notificationv1.ReceiverList{}
	if err := r.List(ctx, list, client.InNamespace(secret.GetNamespace()), client.MatchingFields{secretIndex: secret.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, o := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
	}
	return reqs
}
