// Package manager is the main of gotk's controller binaries: gotk-controller,
// which holds every controller, and the binaries of one controller each
// (controller.Binaries). A binary registers its controllers with the
// controller package and calls Main; --controllers picks which of them run.
// It runs in a cluster or, with --kubeconfig, as a local process against
// any cluster.
package manager

import (
	"errors"
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
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/scheme"
	"github.com/gotk-dev/gotk/internal/version"
)

// Main runs the registered controllers that --controllers selects until
// the process is told to stop. An error (bad flags, no cluster) is printed
// and exits 1.
func Main(binary string) {
	if err := run(binary); err != nil {
		fmt.Fprintln(os.Stderr, binary+":", err)
		os.Exit(1)
	}
}

func run(binary string) error {
	opts := runtime.DefaultOptions()
	fs := pflag.NewFlagSet(binary, pflag.ContinueOnError)
	opts.BindFlags(fs)
	controller.BindFlags(fs)
	controllers := fs.String("controllers", defaultControllers(binary), controllersUsage(binary))
	showVersion := fs.Bool("version", false, "Print the version and exit.")
	// --kubeconfig comes from controller-runtime's flag registration.
	fs.AddGoFlagSet(flag.CommandLine)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}
	if *showVersion {
		fmt.Println(version.String())
		return nil
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := controller.ValidateFlags(); err != nil {
		return err
	}
	names, err := controller.Parse(*controllers)
	if err != nil {
		return err
	}
	if err := heldHere(binary, names); err != nil {
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
	cfg.UserAgent = binary + "/" + version.String()

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
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor(controller.AllInOne), mgr.GetScheme(), runtime.RecorderOptions{
		Endpoint:   opts.EventsAddr,
		Controller: controller.AllInOne,
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
	if len(missing) > 0 {
		log.Info("these controllers are not part of this build yet", "controllers", missing)
	}
	log.Info("starting", "version", version.String(), "controllers", names, "namespace", namespace)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// own lists the controllers that binary holds, in start order.
func own(binary string) []string {
	var out []string
	for _, n := range controller.Names {
		if controller.Binaries[n] == binary {
			out = append(out, n)
		}
	}
	return out
}

// defaultControllers is the default of --controllers: all for the
// all-in-one binary, the controllers of a binary of its own but the
// optional ones.
func defaultControllers(binary string) string {
	if binary == controller.AllInOne {
		return "all"
	}
	var out []string
	for _, n := range own(binary) {
		if !controller.Optional[n] {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

func controllersUsage(binary string) string {
	if binary == controller.AllInOne {
		return "Comma-separated controllers to run: " + strings.Join(controller.Names, ", ") +
			"; or all, which is every one but artifactgenerator (add it: all,artifactgenerator)."
	}
	return "Comma-separated controllers to run, of those " + binary + " holds: " + strings.Join(own(binary), ", ") + "."
}

// heldHere refuses controllers that another binary holds: they would not
// run, silently.
func heldHere(binary string, names []string) error {
	for _, n := range names {
		if controller.Registered(n) {
			continue
		}
		if other, ok := controller.Binaries[n]; ok && binary != controller.AllInOne {
			return fmt.Errorf("--controllers: %s does not hold the %s controller; run %s, or %s, which holds them all",
				binary, n, other, controller.AllInOne)
		}
	}
	return nil
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
