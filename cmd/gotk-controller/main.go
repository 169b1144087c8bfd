// Command gotk-controller runs gotk's controllers in one manager;
// --controllers picks which. It runs in a cluster or, with --kubeconfig,
// as a local process against any cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/notification"
	"github.com/gotk-dev/gotk/internal/controller/receiver"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/scheme"
	"github.com/gotk-dev/gotk/internal/version"
)

// sourceConfig holds the flags of the source controller alone.
var sourceConfig = source.DefaultConfig()

// receiverConfig holds the flags of the Receiver webhook server.
var receiverConfig = receiver.DefaultConfig()

// notificationConfig holds the flags of the notification controller's
// event server, Alerts and Providers.
var notificationConfig = notification.DefaultConfig()

func main() {
	controller.Register("source", sourceConfig.Setup)
	controller.Register("artifactgenerator", source.SetupArtifactGenerator)
	controller.Register("kustomize", kustomization.Setup)
	controller.Register("notification", receiverConfig.Setup)
	controller.Register("notification", notificationConfig.Setup)
	controller.Register("helm", helmrelease.Setup)
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gotk-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	opts := runtime.DefaultOptions()
	fs := pflag.NewFlagSet("gotk-controller", pflag.ContinueOnError)
	opts.BindFlags(fs)
	sourceConfig.BindFlags(fs)
	receiverConfig.BindFlags(fs)
	notificationConfig.BindFlags(fs)
	controllers := fs.String("controllers", "all",
		"Comma-separated controllers to run: "+strings.Join(controller.Names, ", ")+
			"; or all, which is every one but artifactgenerator (add it: all,artifactgenerator).")
	showVersion := fs.Bool("version", false, "Print the version and exit.")
	// --kubeconfig comes from controller-runtime's flag registration.
	fs.AddGoFlagSet(flag.CommandLine)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version.String())
		return nil
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := sourceConfig.Validate(); err != nil {
		return err
	}
	if err := receiverConfig.Validate(); err != nil {
		return err
	}
	if err := notificationConfig.Validate(); err != nil {
		return err
	}
	names, err := controller.Parse(*controllers)
	if err != nil {
		return err
	}

	log := runtime.NewLogger(opts.LogLevel, opts.LogEncoding)
	ctrl.SetLogger(log)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (set --kubeconfig or run in a pod): %w", err)
	}
	cfg.QPS = opts.KubeAPIQPS
	cfg.Burst = opts.KubeAPIBurst
	cfg.UserAgent = "gotk-controller/" + version.String()

	namespace := runtimeNamespace()
	cacheOpts, err := opts.CacheOptions(namespace)
	if err != nil {
		return err
	}
	shutdown := 30 * time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme.New(),
		Cache:                         cacheOpts,
		Client:                        runtime.ClientOptions(),
		MapperProvider:                runtime.MapperProvider,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.HealthAddr,
		PprofBindAddress:              opts.PprofAddr,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "gotk-" + strings.Join(names, "-"),
		LeaderElectionNamespace:       namespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &shutdown,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), mgr.GetScheme(), runtime.RecorderOptions{
		Endpoint:   opts.EventsAddr,
		Controller: "gotk-controller",
		Instance:   hostname(),
		Log:        log.WithName("events"),
	})
	if err := mgr.Add(recorder); err != nil {
		return err
	}
	deps := controller.Deps{Options: opts, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	missing, err := controller.SetupAll(mgr, names, deps)
	if err != nil {
		return err
	}
	if notificationConfig.Server != nil {
		// The notification controller runs here: events skip the network.
		recorder.DeliverLocally(notificationConfig.Server.Accept)
	}
	if len(missing) > 0 {
		log.Info("these controllers are not part of this build yet", "controllers", missing)
	}
	log.Info("starting", "version", version.String(), "controllers", names, "namespace", namespace)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// runtimeNamespace is the namespace the controller runs in: the downward
// API's RUNTIME_NAMESPACE in a cluster, gotk-system otherwise.
func runtimeNamespace() string {
	if ns := os.Getenv("RUNTIME_NAMESPACE"); ns != "" {
		return ns
	}
	return "gotk-system"
}

func hostname() string {
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return ""
}
