// Package localcluster runs a whole Kubernetes control plane as local
// processes on loopback: etcd and kube-apiserver (through envtest),
// kube-controller-manager and kube-scheduler, and kwok simulating one node,
// so that Deployments get pods and become Available without a container
// runtime. The demo runs on it, and so do tests that need real workloads.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/testenv"
)

// NodeName is the simulated node's name.
const NodeName = "kwok-node-0"

// Cluster is a running local control plane.
type Cluster struct {
	*testenv.Env
	// Kubeconfig is the path of an admin kubeconfig for the cluster.
	Kubeconfig string
	dir        string
	procs      []*process
}

type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Options tunes Start.
type Options struct {
	// Dir holds the kubeconfig and the logs of the processes.
	Dir string
	// Logs receives a line per process start; nil discards.
	Logs io.Writer
	// ControllerManagerFlags are added to kube-controller-manager's, such
	// as --kube-api-qps (its default, 20 requests per second, bounds how
	// fast a thousand new Deployments become Available).
	ControllerManagerFlags []string
}

// Start brings the control plane up, registers the simulated node and waits
// until it is Ready. Stop ends every process.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	assets, err := testenv.AssetsDir()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Logs, "starting etcd and kube-apiserver")
	env, err := testenv.Start(testenv.WithAPIServerFlag("service-cluster-ip-range", "10.96.0.0/16"))
	if err != nil {
		return nil, err
	}
	c = &Cluster{Env: env, dir: o.Dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.Kubeconfig, err = env.Kubeconfig(o.Dir); err != nil {
		return nil, err
	}

	fmt.Fprintln(o.Logs, "starting kube-controller-manager, kube-scheduler and kwok")
	kcm := append([]string{
		"--kubeconfig=" + c.Kubeconfig,
		// Tokens need a signing key the kwok pods never use.
		"--controllers=*,-serviceaccount-token",
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-cluster-ip-range=10.96.0.0/16",
	}, o.ControllerManagerFlags...)
	if err := c.run(filepath.Join(assets, "kube-controller-manager"), kcm...); err != nil {
		return nil, err
	}
	if err := c.run(filepath.Join(assets, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0"); err != nil {
		return nil, err
	}
	stages, err := filepath.Glob(filepath.Join(assets, "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return nil, fmt.Errorf("no kwok stage configs in %s/kwok-stages: rerun hack/kube-binaries.sh", assets)
	}
	args := []string{"--kubeconfig=" + c.Kubeconfig, "--manage-all-nodes=true", "--server-address=127.0.0.1:0"}
	for _, s := range stages {
		args = append(args, "--config="+s)
	}
	if err := c.run(filepath.Join(assets, "kwok"), args...); err != nil {
		return nil, err
	}
	if err := c.addNode(ctx); err != nil {
		return nil, err
	}
	return c, c.waitNodeReady(ctx)
}

// run starts a process whose output goes to <dir>/<name>.log.
func (c *Cluster) run(bin string, args ...string) error {
	name := filepath.Base(bin)
	logf, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// Exited returns the first process that has stopped, if any, so callers can
// report a crash instead of waiting for nothing.
func (c *Cluster) Exited() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v): see %s", p.name, p.err, filepath.Join(c.dir, p.name+".log"))
		default:
		}
	}
	return nil
}

func (c *Cluster) addNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Labels:      map[string]string{"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux", "type": "kwok"},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
				corev1.ResourcePods: resource.MustParse("1000"),
			},
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
				corev1.ResourcePods: resource.MustParse("1000"),
			},
		},
	}
	if err := c.Client.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", NodeName, err)
	}
	return nil
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		node := &corev1.Node{}
		if err := c.Client.Get(ctx, client.ObjectKey{Name: NodeName}, node); err == nil {
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		if err := c.Exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("the kwok node did not become Ready within 2m: see kwok.log")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop ends every process, then the API server and etcd.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, p := range c.procs {
		wg.Add(1)
		go func(p *process) {
			defer wg.Done()
			_ = p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}(p)
	}
	wg.Wait()
	if c.Env != nil {
		_ = c.Env.Stop()
	}
}
