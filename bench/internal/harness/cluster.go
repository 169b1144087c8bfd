package harness

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/localcluster"
)

// StartCluster starts a control plane that behaves like a cluster
// (kube-controller-manager, kube-scheduler and a kwok node) in dir, and
// returns it with a client for the bench whose own rate limit slows
// nothing. kcmQPS > 0 sets kube-controller-manager's --kube-api-qps (and
// its burst to twice that); its default, 20, bounds how fast a thousand
// new Deployments become Available.
func StartCluster(ctx context.Context, dir string, kcmQPS int) (*localcluster.Cluster, client.WithWatch, error) {
	opts := localcluster.Options{Dir: dir}
	if kcmQPS > 0 {
		opts.ControllerManagerFlags = []string{"--kube-api-qps=" + strconv.Itoa(kcmQPS), "--kube-api-burst=" + strconv.Itoa(2*kcmQPS)}
	}
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	cfg := rest.CopyConfig(cluster.Env.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: cluster.Env.Scheme})
	if err != nil {
		cluster.Stop()
		return nil, nil, err
	}
	return cluster, cl, nil
}

// AppNamespaces creates the namespaces extra and app-0000 to app-<n-1>,
// 32 at a time, and returns the names of the n.
func AppNamespaces(ctx context.Context, cl client.Client, n int, extra ...string) ([]string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app-%04d", i)
	}
	err := Parallel(append(extra, names...), 32, func(name string) error {
		return cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	return names, err
}
