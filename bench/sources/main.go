// Command sources measures what the OCIRepository and Bucket reconcilers
// cost: pulling and unpacking a 50 MB OCI artifact, and listing and
// downloading a 10,000-object bucket, each into artifact storage, beside
// curl downloading the same bytes (with tar unpacking the layer). The
// registry (distribution v3) and the S3 server (gofakes3) run in this
// process on loopback; each reconcile runs in a child process, so that its
// peak RSS is its own.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/bucket"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/oci"
	gotkruntime "github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/scheme"
	"github.com/gotk-dev/gotk/internal/testenv"

	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

const namespace = "bench"

type result struct {
	FullNanos int64  `json:"full"`
	NoopNanos int64  `json:"noop"`
	BaseRSS   int64  `json:"baseRSS"`
	PeakRSS   int64  `json:"peakRSS"`
	Revision  string `json:"revision"`
	Error     string `json:"error,omitempty"`
}

func main() {
	child := flag.String("child", "", "internal: reconcile kind/name once and again, and print JSON")
	kubeconfig := flag.String("child-kubeconfig", "", "internal")
	storage := flag.String("storage", "", "internal")
	ociMB := flag.Int("oci-mb", 50, "MB of incompressible content in the OCI artifact")
	objects := flag.Int("objects", 10000, "objects in the bucket")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *kubeconfig, *storage); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*ociMB, *objects); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ociMB, objects int) error {
	ctx := context.Background()
	logrus.SetOutput(io.Discard) // the registry logs every request
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer env.Stop()
	work, err := os.MkdirTemp("", "bench-sources-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	kc, err := env.Kubeconfig(work)
	if err != nil {
		return err
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}

	// The registry and an artifact of ociMB files of 1 MB of random bytes.
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	reg := httptest.NewServer(handlers.NewApp(ctx, cfg))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	tree := filepath.Join(work, "tree")
	for i := range ociMB {
		buf := make([]byte, 1<<20)
		_, _ = rand.Read(buf)
		p := filepath.Join(tree, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%03d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
	}
	oc, err := oci.NewClient("oci://"+host+"/bench/app", oci.Options{Insecure: true})
	if err != nil {
		return err
	}
	pushed, err := oc.PushDir(ctx, tree, nil, nil, "v1")
	if err != nil {
		return err
	}

	// The bucket: objects of 1 KB in 100 directories.
	backend := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	defer s3.Close()
	if err := backend.CreateBucket("bench"); err != nil {
		return err
	}
	body := strings.Repeat("x", 1024)
	var keys []string
	for i := range objects {
		key := fmt.Sprintf("d%03d/o%05d.yaml", i%100, i)
		keys = append(keys, key)
		meta := map[string]string{"Last-Modified": time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}
		if _, err := backend.PutObject("bench", key, meta, strings.NewReader(body), int64(len(body)), nil); err != nil {
			return err
		}
	}

	create := func(obj client.Object) error { return env.Client.Create(ctx, obj) }
	if err := create(&sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: namespace},
		Spec: sourcev1.OCIRepositorySpec{URL: "oci://" + host + "/bench/app", Insecure: true,
			Reference: &sourcev1.OCIRepositoryRef{Tag: "v1"}, Interval: metav1.Duration{Duration: time.Hour},
			Timeout: &metav1.Duration{Duration: 10 * time.Minute}},
	}); err != nil {
		return err
	}
	if err := create(&sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: namespace},
		Spec: sourcev1.BucketSpec{Provider: "generic", Endpoint: strings.TrimPrefix(s3.URL, "http://"), BucketName: "bench",
			Insecure: true, Interval: metav1.Duration{Duration: time.Hour}, Timeout: &metav1.Duration{Duration: 10 * time.Minute}},
	}); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("| scenario | time | peak RSS |\n|---|---|---|\n")
	for _, kind := range []string{"OCIRepository", "Bucket"} {
		out, err := exec.Command(self, "-child="+kind, "-child-kubeconfig="+kc, "-storage="+filepath.Join(work, "storage-"+kind)).Output()
		if err != nil {
			return fmt.Errorf("child %s: %w", kind, err)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("child %s: %s: %w", kind, out, err)
		}
		if r.Error != "" {
			return fmt.Errorf("child %s: %s", kind, r.Error)
		}
		fmt.Printf("| gotk %s full reconcile (%s) | %s | %d MiB (%d MiB before) |\n", kind, short(r.Revision),
			time.Duration(r.FullNanos).Round(time.Millisecond), r.PeakRSS>>10, r.BaseRSS>>10)
		fmt.Printf("| gotk %s no-op reconcile | %s | - |\n", kind, time.Duration(r.NoopNanos).Round(time.Millisecond))
	}

	// curl: the layer blob, unpacked by tar.
	blob := fmt.Sprintf("%s/v2/bench/app/blobs/%s", reg.URL, pushed.Layer.Digest)
	dst := filepath.Join(work, "curl-oci")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	d, rss, err := timed("sh", "-c", fmt.Sprintf("curl -sf %q | tar xzf - -C %q", blob, dst))
	if err != nil {
		return err
	}
	fmt.Printf("| curl layer blob + tar xzf (%d MB) | %s | %d MiB |\n", ociMB, d.Round(time.Millisecond), rss>>10)

	// curl: every object, 8 at a time as the reconciler fetches them.
	list := filepath.Join(work, "curl.cfg")
	f, err := os.Create(list)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, k := range keys {
		fmt.Fprintf(w, "url = \"%s/bench/%s\"\noutput = \"%s\"\n", s3.URL, k, filepath.Join(work, "curl-s3", k))
	}
	_ = w.Flush()
	f.Close()
	d, rss, err = timed("curl", "-sSf", "--no-progress-meter", "--create-dirs", "-Z", "--parallel-max", "8", "-K", list)
	if err != nil {
		return err
	}
	fmt.Printf("| curl of the %d objects (8 in parallel, unsigned) | %s | %d MiB |\n", objects, d.Round(time.Millisecond), rss>>10)
	return nil
}

func short(rev string) string {
	if len(rev) > 24 {
		return rev[:24] + "..."
	}
	return rev
}

// timed runs a command under GNU time and returns its wall time and the
// peak RSS (KiB) of the command and its children. GNU time forks from a
// small process: the rusage of a child of this one would count the pages
// it shared with this large process before exec.
func timed(name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "maxrss=%M", name}, args...)...)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", name, err, errOut.String())
	}
	took := time.Since(start)
	var kb int64
	if i := strings.LastIndex(errOut.String(), "maxrss="); i >= 0 {
		fmt.Sscanf(errOut.String()[i:], "maxrss=%d", &kb)
	}
	return took, kb, nil
}

func runChild(kind, kubeconfig, storageDir string) error {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	st, err := artifact.NewStorage(storageDir, "127.0.0.1:9090")
	if err != nil {
		return err
	}
	metrics := gotkruntime.NewMetrics(prometheus.NewRegistry())
	var r reconcile.Reconciler
	key := client.ObjectKey{Namespace: namespace, Name: "app"}
	var get func() (string, error)
	switch kind {
	case "OCIRepository":
		r = &ocirepository.Reconciler{Client: c, Storage: st, Metrics: metrics}
		get = func() (string, error) {
			o := &sourcev1.OCIRepository{}
			if err := c.Get(ctx, key, o); err != nil || o.Status.Artifact == nil {
				return "", fmt.Errorf("no artifact: %v %+v", err, o.Status.Conditions)
			}
			return o.Status.Artifact.Revision, nil
		}
	default:
		r = &bucket.Reconciler{Client: c, Storage: st, Metrics: metrics}
		get = func() (string, error) {
			o := &sourcev1.Bucket{}
			if err := c.Get(ctx, key, o); err != nil || o.Status.Artifact == nil {
				return "", fmt.Errorf("no artifact: %v %+v", err, o.Status.Conditions)
			}
			return o.Status.Artifact.Revision, nil
		}
	}
	if _, err := get(); err == nil {
		return fmt.Errorf("%s already has an artifact", kind)
	}
	res := result{BaseRSS: hwm()}
	start := time.Now()
	_, rerr := r.Reconcile(ctx, ctrl.Request{NamespacedName: key})
	res.FullNanos = time.Since(start).Nanoseconds()
	res.PeakRSS = hwm()
	rev, err := get()
	if rerr != nil || err != nil {
		res.Error = fmt.Sprint(rerr, err)
	}
	res.Revision = rev
	start = time.Now()
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key}); err != nil {
		res.Error = err.Error()
	}
	res.NoopNanos = time.Since(start).Nanoseconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// hwm is the process's peak resident set (VmHWM), in KiB.
func hwm() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb
		}
	}
	return 0
}
