package helm

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// storedIndex writes the artifact the HelmRepository controller stores
// for an index of chart name -> versions, and returns its path and digest.
func storedIndex(t *testing.T, charts map[string][]string) (string, string) {
	t.Helper()
	idx := repo.NewIndexFile()
	for name, versions := range charts {
		for _, v := range versions {
			if err := idx.MustAdd(&chart.Metadata{APIVersion: "v2", Name: name, Version: v, Description: "a chart"},
				name+"-"+v+".tgz", "https://charts.example.com", "sha256:"+v); err != nil {
				t.Fatal(err)
			}
		}
	}
	src := filepath.Join(t.TempDir(), "index.yaml")
	if err := idx.WriteFile(src, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadIndex(src, "test index")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "artifact.yaml")
	if err := os.WriteFile(file, loaded.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file, loaded.Revision
}

// Lookups of any number of charts, concurrent or not, read an index once
// while it is cached; each entry keeps what the download needs.
func TestIndexCacheReadsAnIndexOnce(t *testing.T) {
	file, digest := storedIndex(t, map[string][]string{"app": {"1.0.0", "1.1.0"}, "db": {"2.0.0"}})
	c := NewIndexCache(2)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(digest, file, "test index", "app"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	db, err := c.Lookup(digest, file, "test index", "db")
	if err != nil {
		t.Fatal(err)
	}
	if c.Reads() != 1 || c.ReadsOf(digest) != 1 {
		t.Errorf("index read %d times, want once", c.Reads())
	}
	want := IndexEntry{Name: "db", Version: "2.0.0", URLs: []string{"https://charts.example.com/db-2.0.0.tgz"}, Digest: "sha256:2.0.0"}
	if len(db) != 1 || db[0].Name != want.Name || db[0].Version != want.Version || db[0].URLs[0] != want.URLs[0] || db[0].Digest != want.Digest {
		t.Errorf("entries of db: %+v, want %+v", db, want)
	}
	app, _ := c.Lookup(digest, file, "test index", "app")
	if e, err := SelectEntry("app", app, "~1.0"); err != nil || e.Version != "1.0.0" {
		t.Errorf("select ~1.0: %+v %v", e, err)
	}
	var nf *ChartNotFoundError
	if _, err := c.Lookup(digest, file, "test index", "nope"); !errors.As(err, &nf) {
		t.Errorf("unknown chart: %v", err)
	}
}

// The cache holds at most its size of indexes, dropping the least
// recently used; an index that cannot be read is not cached.
func TestIndexCacheIsBounded(t *testing.T) {
	a, da := storedIndex(t, map[string][]string{"app": {"1.0.0"}})
	b, db := storedIndex(t, map[string][]string{"app": {"2.0.0"}})
	c := NewIndexCache(1)
	for _, step := range []struct{ file, digest string }{{a, da}, {a, da}, {b, db}, {a, da}} {
		if _, err := c.Lookup(step.digest, step.file, "test index", "app"); err != nil {
			t.Fatal(err)
		}
	}
	if c.Reads() != 3 {
		t.Errorf("reads %d, want 3: a, b, then a again after b evicted it", c.Reads())
	}
	if len(c.entries) != 1 {
		t.Errorf("%d indexes cached, want 1", len(c.entries))
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("entries: {app: ["), 0o644); err != nil {
		t.Fatal(err)
	}
	var ii *InvalidIndexError
	for range 2 {
		if _, err := c.Lookup("sha256:bad", bad, "bad index", "app"); !errors.As(err, &ii) {
			t.Errorf("err = %v, want an InvalidIndexError", err)
		}
	}
	if c.Reads() != 5 {
		t.Errorf("reads %d: a failed read should not be cached", c.Reads())
	}
}
