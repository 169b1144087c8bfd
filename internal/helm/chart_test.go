package helm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

func index(versions ...string) *repo.IndexFile {
	idx := repo.NewIndexFile()
	for _, v := range versions {
		idx.MustAdd(&chart.Metadata{APIVersion: "v2", Name: "app", Version: v}, "app-"+v+".tgz", "", "")
	}
	return idx
}

func TestSelectVersion(t *testing.T) {
	idx := index("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "0.9.0")
	for _, tt := range []struct{ rng, want string }{
		{"", "1.10.0"},
		{"*", "1.10.0"},
		{"1.x", "1.10.0"},
		{"~1.2", "1.2.0"},
		{"<1.0.0", "0.9.0"},
		{">=2.0.0-0", "2.0.0-rc.1"},
		{"2.0.0-rc.1", "2.0.0-rc.1"},
		{"1.0.0", "1.0.0"},
	} {
		cv, err := SelectVersion(idx, "app", tt.rng)
		if err != nil || cv.Version != tt.want {
			t.Errorf("range %q: %v, %v; want %s", tt.rng, cv, err, tt.want)
		}
	}
	var nf *ChartNotFoundError
	if _, err := SelectVersion(idx, "other", "*"); !errors.As(err, &nf) {
		t.Errorf("unknown chart: %v", err)
	}
	var nv *NoVersionError
	if _, err := SelectVersion(idx, "app", ">=3"); !errors.As(err, &nv) || nv.Latest != "2.0.0-rc.1" {
		t.Errorf("no match: %v", err)
	}
	var ir *InvalidRangeError
	if _, err := SelectVersion(idx, "app", "one point oh"); !errors.As(err, &ir) {
		t.Errorf("invalid range: %v", err)
	}
}

func TestMergeValuesFilesInOrder(t *testing.T) {
	ch := &chart.Chart{
		Metadata: &chart.Metadata{Name: "app"},
		Raw:      []*common.File{{Name: "values.yaml", Data: []byte("a: 1\nm: {p: 1, q: 1}\n")}},
		Files:    []*common.File{{Name: "prod/values.yaml", Data: []byte("m: {q: 2}\nb: 2\n")}},
	}
	vals, found, err := MergeValuesFiles(ch, []string{"values.yaml", "./prod/values.yaml", "nope.yaml"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if vals["a"] != float64(1) || vals["b"] != float64(2) || vals["m"].(map[string]any)["p"] != float64(1) || vals["m"].(map[string]any)["q"] != float64(2) {
		t.Errorf("merged %v", vals)
	}
	if strings.Join(found, ",") != "values.yaml,./prod/values.yaml" {
		t.Errorf("found %v", found)
	}
	var missing *MissingValuesFileError
	if _, _, err := MergeValuesFiles(ch, []string{"nope.yaml"}, false); !errors.As(err, &missing) {
		t.Errorf("missing file: %v", err)
	}
}

// A chart archive whose sha256 is not the one in the index is refused.
func TestDownloadChartChecksIndexDigest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("tampered")) }))
	defer srv.Close()
	cv := &IndexEntry{Name: "app", Version: "1.0.0", URLs: []string{"app-1.0.0.tgz"}, Digest: strings.Repeat("0", 64)}
	err := DownloadChart(context.Background(), srv.URL, cv, Options{}, filepath.Join(t.TempDir(), "c.tgz"))
	if err == nil || !strings.Contains(err.Error(), "the index says") {
		t.Errorf("err = %v, want a digest mismatch", err)
	}
	cv.Digest = ""
	if err := DownloadChart(context.Background(), srv.URL, cv, Options{}, filepath.Join(t.TempDir(), "c.tgz")); err != nil {
		t.Errorf("no digest in the index: %v", err)
	}
}

// A file that is not a chart archive is refused by the loader.
func TestLoadChartRefusesGarbage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.tgz")
	if err := writeFile(file, []byte("not a tarball")); err != nil {
		t.Fatal(err)
	}
	var ic *InvalidChartError
	if _, err := LoadChart(file, "chart 'app'"); !errors.As(err, &ic) {
		t.Errorf("err = %v, want an InvalidChartError", err)
	}
}

func writeFile(name string, data []byte) error { return os.WriteFile(name, data, 0o644) }
