package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// helmSteps installs the chart of examples/charts/hello from a Helm
// repository on loopback, then publishes a new version of it and shows the
// release following.
func (d *demo) helmSteps(ctx context.Context) error {
	chartDir := filepath.Join(d.examples, "charts", "hello")
	step("serving a Helm repository on loopback with the chart %s, version 0.1.0", chartDir)
	url, err := d.startCharts()
	if err != nil {
		return err
	}
	if err := d.publishChart(chartDir, "0.1.0"); err != nil {
		return err
	}
	fmt.Printf("  %s\n", url)

	step("installing the chart: a HelmRepository and a HelmRelease")
	if err := d.gotk(ctx, "create", "source", "helm", "charts", "--url="+url, "--interval=10m"); err != nil {
		return err
	}
	if err := d.gotk(ctx, "create", "helmrelease", "hello", "--source=HelmRepository/charts", "--chart=hello",
		"--chart-version=>=0.1.0", "--target-namespace=hello", "--create-target-namespace", "--interval=10m"); err != nil {
		return err
	}
	if err := d.gotk(ctx, "get", "helmreleases"); err != nil {
		return err
	}

	step("publishing hello 0.2.0 to the Helm repository")
	t0 := time.Now()
	if err := d.publishChart(chartDir, "0.2.0"); err != nil {
		return err
	}
	if err := d.gotk(ctx, "reconcile", "helmrelease", "hello", "--with-source"); err != nil {
		return err
	}
	hr, err := d.waitChartVersion(ctx, "0.2.0")
	if err != nil {
		return err
	}
	fmt.Printf("\n✔ the release followed the Helm repository in %s (from publishing 0.2.0 to the upgraded release)\n",
		time.Since(t0).Round(time.Millisecond))
	if err := d.gotk(ctx, "get", "helmreleases"); err != nil {
		return err
	}
	fmt.Println("\n  release history (status.history of HelmRelease gotk-system/hello):")
	for _, s := range hr.Status.History {
		fmt.Printf("    revision %d  %s-%s  %s\n", s.Version, s.ChartName, s.ChartVersion, s.Status)
	}
	return nil
}

// startCharts serves d.charts over HTTP on loopback and returns its URL.
func (d *demo) startCharts() (string, error) {
	d.charts = filepath.Join(d.dir, "charts")
	if err := os.MkdirAll(d.charts, 0o755); err != nil {
		return "", err
	}
	addr, err := freePort()
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.FileServer(http.Dir(d.charts))}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + addr, nil
}

// publishChart packages the chart in dir as version into the repository
// and writes its index.yaml again, as `helm package` and `helm repo index`
// would.
func (d *demo) publishChart(dir, version string) error {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("load the chart in %s: %w", dir, err)
	}
	ch.Metadata.Version = version
	if _, err := chartutil.Save(ch, d.charts); err != nil {
		return fmt.Errorf("package %s %s: %w", dir, version, err)
	}
	idx, err := repo.IndexDirectory(d.charts, "")
	if err != nil {
		return fmt.Errorf("index %s: %w", d.charts, err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(d.charts, "index.yaml"), 0o644); err != nil {
		return err
	}
	var files []string
	entries, _ := os.ReadDir(d.charts)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	fmt.Printf("  published %s-%s; the repository holds %s\n", ch.Name(), version, strings.Join(files, ", "))
	return nil
}

// waitChartVersion waits until the HelmRelease's current release is of
// the chart version want, deployed.
func (d *demo) waitChartVersion(ctx context.Context, want string) (*helmv2.HelmRelease, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	hr := &helmv2.HelmRelease{}
	for {
		err := d.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "gotk-system", Name: "hello"}, hr)
		if err == nil {
			if s := hr.Status.History.Latest(); s != nil && s.ChartVersion == want && s.Status == "deployed" {
				return hr, nil
			}
		}
		if err := d.cluster.Exited(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("HelmRelease gotk-system/hello did not release chart version %s in 3m: see %s/gotk-controller.log", want, d.dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
