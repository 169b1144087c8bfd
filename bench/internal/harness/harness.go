// Package harness holds what the benchmark programs share around the
// system they measure: gotk-controller built and run as its own process
// (so that its memory is its own), its resident memory and CPU time read
// from /proc, its Go profiles, the Prometheus metrics of the controller
// and of kube-apiserver, and small helpers to poll and to create objects
// in parallel.
package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// BuildController builds ./cmd/gotk-controller into dir as the image
// builds it (Dockerfile: static and stripped) and returns the binary's
// path. The binary's resident pages are a large part of the
// controller's RSS, and a dynamic build with symbols holds more.
func BuildController(dir string) (string, error) {
	return buildBinary(dir, controller.AllInOne)
}

// BuildBinaries builds gotk-controller and the binaries of one controller
// each (controller.Binaries) into dir.
func BuildBinaries(dir string) error {
	names := []string{controller.AllInOne}
	for _, b := range controller.Binaries {
		if !slices.Contains(names, b) {
			names = append(names, b)
		}
	}
	for _, name := range names {
		if _, err := buildBinary(dir, name); err != nil {
			return err
		}
	}
	return nil
}

// buildBinary builds ./cmd/name into dir, as the image does.
func buildBinary(dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/"+name)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Dir = testenv.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	return bin, nil
}

// ControllerOptions says how to run gotk-controller.
type ControllerOptions struct {
	// Binary is the gotk-controller to run.
	Binary string
	// Kubeconfig is the path of the kubeconfig it connects with.
	Kubeconfig string
	// Controllers is its --controllers.
	Controllers string
	// Work holds its artifact storage and is its TMPDIR.
	Work string
	// Concurrent, QPS and Burst set --concurrent, --kube-api-qps and
	// --kube-api-burst when above zero.
	Concurrent, QPS, Burst int
	// Pprof serves the Go profiles on a loopback port (--pprof-addr).
	Pprof bool
	// Logs is a file for its logs; empty discards them.
	Logs string
	// Args are more flags.
	Args []string
}

// Controller is a running gotk-controller.
type Controller struct {
	Cmd *exec.Cmd
	// Binary is the path of the program it runs.
	Binary string
	// Pid is its process id.
	Pid int
	// MetricsURL is its Prometheus endpoint.
	MetricsURL string
	// PprofAddr is the address of its /debug/pprof/, when asked for.
	PprofAddr string
}

// PidOrZero returns c's process id, or 0 when c is nil.
func (c *Controller) PidOrZero() int {
	if c == nil {
		return 0
	}
	return c.Pid
}

// StartController runs gotk-controller as o says and waits until its
// metrics endpoint answers.
func StartController(o ControllerOptions) (*Controller, error) {
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	storage := "127.0.0.1:" + ports[0]
	metrics := "127.0.0.1:" + ports[1]
	args := []string{
		"--kubeconfig=" + o.Kubeconfig, "--controllers=" + o.Controllers,
		"--storage-path=" + filepath.Join(o.Work, "storage"), "--storage-addr=" + storage, "--storage-adv-addr=" + storage,
		"--metrics-addr=" + metrics, "--health-addr=127.0.0.1:" + ports[2], "--log-level=error", "--log-encoding=console",
	}
	c := &Controller{Binary: o.Binary, MetricsURL: "http://" + metrics + "/metrics"}
	if o.Pprof {
		c.PprofAddr = "127.0.0.1:" + ports[3]
		args = append(args, "--pprof-addr="+c.PprofAddr)
	}
	for flag, v := range map[string]int{"concurrent": o.Concurrent, "kube-api-qps": o.QPS, "kube-api-burst": o.Burst} {
		if v > 0 {
			args = append(args, "--"+flag+"="+strconv.Itoa(v))
		}
	}
	args = append(args, o.Args...)
	cmd := exec.Command(o.Binary, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+o.Work)
	if o.Logs != "" {
		f, err := os.Create(o.Logs)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.Cmd, c.Pid = cmd, cmd.Process.Pid
	err = Poll(time.Minute, 100*time.Millisecond, func() (bool, error) {
		resp, err := http.Get(c.MetricsURL)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("gotk-controller did not start: %w", err)
	}
	return c, nil
}

// Stop interrupts the controller and waits for it to exit.
func (c *Controller) Stop() {
	_ = c.Cmd.Process.Signal(os.Interrupt)
	_ = c.Cmd.Wait()
}

// HeapProfile writes the controller's heap profile, after a GC, into
// path.
func (c *Controller) HeapProfile(path string) error {
	return c.profile("/debug/pprof/heap?gc=1", path)
}

// CPUProfile starts a CPU profile of the controller of the given length
// into path and returns a function that waits for it.
func (c *Controller) CPUProfile(path string, seconds int) func() error {
	done := make(chan error, 1)
	go func() { done <- c.profile(fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), path) }()
	return func() error { return <-done }
}

func (c *Controller) profile(query, path string) error {
	if c.PprofAddr == "" {
		return errors.New("the controller serves no profiles: start it with Pprof")
	}
	resp, err := http.Get("http://" + c.PprofAddr + query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", query, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// Poll calls cond every interval until it holds, fails, or timeout has
// passed.
func Poll(timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(interval)
	}
}

// Parallel runs fn over items with at most n at once and returns the
// first error, naming its item.
func Parallel(items []string, n int, fn func(string) error) error {
	var wg sync.WaitGroup
	var next atomic.Int64
	var once sync.Once
	var first error
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				if err := fn(items[i]); err != nil {
					once.Do(func() { first = fmt.Errorf("%s: %w", items[i], err) })
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1.
func FreePorts(n int) ([]string, error) {
	var ports []string
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}
