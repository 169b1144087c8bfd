package helm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The chart-by-chart reading gives, byte for byte, the canonical JSON of
// the index the Helm SDK loads whole: invalid versions dropped, versions
// newest first, header keys kept; whatever the layout (Helm's YAML, YAML
// with comments and deeper indentation, JSON, flow style).
func TestCanonicalizeIndexMatchesWholeLoad(t *testing.T) {
	helmYAML := `apiVersion: v1
entries:
  app:
  - apiVersion: v2
    created: "2026-01-01T00:00:00Z"
    description: |
      A chart
      on two lines.
    digest: abc
    name: app
    urls:
    - app-1.0.0.tgz
    version: 1.0.0
  - name: app
    urls: [app-1.10.0.tgz]
    version: 1.10.0
  - name: app
    version: not-semver
  - name: app
    version: 2.0.0
    urls:
    - app-2.0.0.tgz
  zeta:
  - name: zeta
    version: 0.1.0
    urls:
    - https://cdn.example.com/zeta-0.1.0.tgz
  beta: []
generated: "2026-01-01T00:00:00Z"
serverInfo:
  contextPath: /charts
annotations:
  owner: bench
`
	indented := `# a comment
apiVersion: v1

entries:
    # charts
    app:
        -   name: app
            version: 1.0.0
            urls:
                - app-1.0.0.tgz
    db:
        - name: db
          version: 3.0.0
generated: "2026-01-01T00:00:00Z"
`
	jsonIndex := `{"apiVersion":"v1","entries":{"b":[{"name":"b","version":"1.0.0"},{"name":"b","version":"1.2.0"}],"a":[{"name":"a","version":"0.1.0","urls":["a.tgz"]}]},"generated":"2026-01-01T00:00:00Z"}`
	flow := `{apiVersion: v1, entries: {app: [{name: app, version: 1.0.0}]}}`
	for name, body := range map[string]string{"helm": helmYAML, "indented": indented, "json": jsonIndex, "flow": flow} {
		dir := t.TempDir()
		src := filepath.Join(dir, "index.yaml")
		if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		whole, err := LoadIndex(src, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		dst := filepath.Join(dir, "index.json")
		rev, err := CanonicalizeIndex(src, dst, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := os.ReadFile(dst)
		if !bytes.Equal(got, whole.Data) || rev != whole.Revision {
			t.Errorf("%s: streamed\n%s\nwhole\n%s", name, got, whole.Data)
		}
	}
}

// What the SDK refuses is refused, naming the index.
func TestCanonicalizeIndexRefusesWhatHelmRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"no apiVersion": "entries:\n  app:\n  - name: app\n    version: 1.0.0\n",
		"unknown field": "apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n    bogus: 1\n",
		"not YAML":      "apiVersion: v1\nentries:\n  app:\n  - name: [app\n",
		"duplicate":     "apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n  app:\n  - name: app\n    version: 2.0.0\n",
		"not an index":  "<html>not found</html>\n",
		"empty":         "",
	} {
		dir := t.TempDir()
		src := filepath.Join(dir, "index.yaml")
		if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := CanonicalizeIndex(src, filepath.Join(dir, "out.json"), "https://charts.example.com/index.yaml")
		var invalid *InvalidIndexError
		if !errors.As(err, &invalid) || invalid.URL != "https://charts.example.com/index.yaml" {
			t.Errorf("%s: err = %v, want an InvalidIndexError naming the index", name, err)
		}
		if _, werr := LoadIndex(src, "x"); werr == nil {
			t.Errorf("%s: the SDK loads it whole", name)
		}
	}
}
