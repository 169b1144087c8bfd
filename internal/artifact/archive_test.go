package artifact

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var sampleTree = map[string]string{
	"README.md":                      "# podinfo\n",
	"deploy/app.yaml":                "kind: Deployment\n",
	"deploy/svc.yaml":                "kind: Service\n",
	"deploy/base/kustomization.yaml": "resources: []\n",
	"empty/":                         "",
	"link-to-app.yaml":               "->deploy/app.yaml",
	"deploy/base/up.yaml":            "->../svc.yaml",
}

func TestArchiveDeterministic(t *testing.T) {
	t.Parallel()
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		same   bool
	}{
		{name: "same tree made again", change: func(*testing.T, string) {}, same: true},
		{name: "other modification times", same: true, change: func(t *testing.T, dir string) {
			for _, f := range []string{"README.md", "deploy/app.yaml", "deploy", "empty"} {
				if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "other owners", same: true, change: func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Log("not root: owners cannot be changed, checking the rest")
				return
			}
			for _, f := range []string{"README.md", "deploy/app.yaml", "deploy"} {
				if err := os.Lchown(filepath.Join(dir, f), 1234, 5678); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "other read/write bits", same: true, change: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "README.md"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "deploy"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "an executable bit", same: false, change: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "README.md"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other content", same: false, change: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	base := t.TempDir()
	writeTree(t, base, sampleTree)
	want := digestOf(archiveBytes(t, base, nil))
	if again := digestOf(archiveBytes(t, base, nil)); again != want {
		t.Fatalf("archiving the same directory twice: %s then %s", want, again)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, sampleTree)
			tt.change(t, dir)
			got := digestOf(archiveBytes(t, dir, nil))
			if (got == want) != tt.same {
				t.Errorf("digest %s, base %s: want same=%v", got, want, tt.same)
			}
		})
	}
}

func TestArchiveHeaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	if err := os.Chmod(filepath.Join(dir, "deploy/svc.yaml"), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := archiveBytes(t, dir, nil)

	// gzip header: no FNAME flag, zero MTIME.
	if flags := data[3]; flags&0x08 != 0 {
		t.Errorf("gzip header carries a file name (flags %#x)", flags)
	}
	if !bytes.Equal(data[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header mtime %v, want zero", data[4:8])
	}

	type head struct {
		Type     byte
		Mode     int64
		Linkname string
	}
	got := map[string]head{}
	forEachHeader(t, data, func(h *tar.Header) {
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(epoch) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: times %v %v %v", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		got[h.Name] = head{h.Typeflag, h.Mode, h.Linkname}
	})
	want := map[string]head{
		"README.md":                      {tar.TypeReg, 0o644, ""},
		"deploy/":                        {tar.TypeDir, 0o755, ""},
		"deploy/app.yaml":                {tar.TypeReg, 0o644, ""},
		"deploy/svc.yaml":                {tar.TypeReg, 0o755, ""},
		"deploy/base/":                   {tar.TypeDir, 0o755, ""},
		"deploy/base/kustomization.yaml": {tar.TypeReg, 0o644, ""},
		"deploy/base/up.yaml":            {tar.TypeSymlink, 0o777, "../svc.yaml"},
		"empty/":                         {tar.TypeDir, 0o755, ""},
		"link-to-app.yaml":               {tar.TypeSymlink, 0o777, "deploy/app.yaml"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got; the FIFO must be left out):\n%s", diff)
	}
	// Entries come in the order of a lexical walk, directories before
	// what they hold.
	wantOrder := []string{"README.md", "deploy/", "deploy/app.yaml", "deploy/base/",
		"deploy/base/kustomization.yaml", "deploy/base/up.yaml", "deploy/svc.yaml", "empty/", "link-to-app.yaml"}
	if diff := cmp.Diff(wantOrder, tarNames(t, data)); diff != "" {
		t.Errorf("entry order (-want +got):\n%s", diff)
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	out := filepath.Join(t.TempDir(), "out")
	stats, err := Extract(bytes.NewReader(archiveBytes(t, dir, nil)), out, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(readTree(t, dir), readTree(t, out)); diff != "" {
		t.Errorf("extracted tree (-archived +extracted):\n%s", diff)
	}
	if stats.Files != len(sampleTree)+2 { // + deploy/ and deploy/base/
		t.Errorf("stats.Files = %d, want %d", stats.Files, len(sampleTree)+2)
	}
}

func TestArchiveSymlinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		link     string // name of the link in the tree
		target   func(dir string) string
		wantErr  bool
		wantLink string // stored target when accepted
	}{
		{name: "relative inside", link: "a/l", target: func(string) string { return "../f" }, wantLink: "../f"},
		{name: "unclean inside", link: "a/l", target: func(string) string { return "./x/../../f" }, wantLink: "../f"},
		{name: "absolute inside", link: "a/l", target: func(d string) string { return filepath.Join(d, "f") }, wantLink: "../f"},
		{name: "dangling inside", link: "l", target: func(string) string { return "missing" }, wantLink: "missing"},
		{name: "absolute outside", link: "a/l", target: func(string) string { return "/etc/passwd" }, wantErr: true},
		{name: "relative outside", link: "a/l", target: func(string) string { return "../../outside" }, wantErr: true},
		{name: "through a link that leads out", link: "a/l", target: func(string) string { return "../out/passwd" }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"f": "file", "a/": "", "out": "->/etc"})
			if err := os.Symlink(tt.target(dir), filepath.Join(dir, tt.link)); err != nil {
				t.Fatal(err)
			}
			// The "out" link itself leads out; leave it out of every
			// archive but the case that goes through it.
			filter := func(rel string, _ bool) bool { return rel == "out" }
			var buf bytes.Buffer
			err := Archive(dir, &buf, filter)
			if tt.wantErr {
				var upe *UnsafePathError
				if !errors.As(err, &upe) || upe.Entry != tt.link {
					t.Fatalf("Archive error %v, want an UnsafePathError naming %s", err, tt.link)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var stored string
			forEachHeader(t, buf.Bytes(), func(h *tar.Header) {
				if h.Name == tt.link {
					stored = h.Linkname
				}
			})
			if stored != tt.wantLink {
				t.Errorf("stored target %q, want %q", stored, tt.wantLink)
			}
		})
	}
	t.Run("link leading out, not filtered", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"ok": "x", "z/etc": "->/etc"})
		err := Archive(dir, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), `"z/etc"`) {
			t.Fatalf("Archive error %v, want one naming z/etc", err)
		}
	})
}

func TestIgnoreFilter(t *testing.T) {
	t.Parallel()
	tree := map[string]string{
		".git/config":               "[core]",
		".git/HEAD":                 "ref: refs/heads/main",
		".gitignore":                "bin/",
		".gitmodules":               "",
		".gitattributes":            "",
		".github/workflows/ci.yaml": "on: push",
		".circleci/config.yml":      "",
		".travis.yml":               "",
		".gitlab-ci.yml":            "",
		"appveyor.yml":              "",
		".drone.yml":                "",
		"cloudbuild.yaml":           "",
		"codeship-services.yml":     "",
		"codeship-steps.yml":        "",
		".goreleaser.yml":           "",
		"tools/.goreleaser.yml":     "",
		".sops.yaml":                "",
		"deploy/.sops.yaml":         "",
		".flux.yaml":                "",
		"logo.png":                  "",
		"docs/shot.JPG":             "", // patterns are case-sensitive
		"docs/a.jpg":                "",
		"docs/b.jpeg":               "",
		"c.gif":                     "",
		"d.wmv":                     "",
		"e.flv":                     "",
		"bundle.tar.gz":             "",
		"f.zip":                     "",
		"README.md":                 "",
		"deploy/app.yaml":           "",
		"deploy/secret.yaml":        "",
		"secret.yaml":               "",
		"sub/.gitignore":            "",
		"Makefile":                  "",
	}
	defaultsKept := []string{
		"Makefile", "README.md", "deploy/", "deploy/app.yaml", "deploy/secret.yaml", "docs/",
		"docs/shot.JPG", "secret.yaml", "sub/", "tools/",
	}
	// What any ignore pattern of the tree's own keeps: everything but the
	// VCS files, as the defaults no longer apply.
	onlyVCS := []string{
		".circleci/", ".circleci/config.yml", ".drone.yml", ".flux.yaml", ".github/", ".github/workflows/",
		".github/workflows/ci.yaml", ".gitlab-ci.yml", ".goreleaser.yml", ".sops.yaml", ".travis.yml",
		"Makefile", "README.md", "appveyor.yml", "bundle.tar.gz", "c.gif", "cloudbuild.yaml",
		"codeship-services.yml", "codeship-steps.yml", "d.wmv", "deploy/", "deploy/.sops.yaml",
		"deploy/app.yaml", "deploy/secret.yaml", "docs/", "docs/a.jpg", "docs/b.jpeg", "docs/shot.JPG",
		"e.flv", "f.zip", "logo.png", "secret.yaml", "sub/", "tools/", "tools/.goreleaser.yml",
	}
	tests := []struct {
		name         string
		sourceIgnore map[string]string // .sourceignore files to add
		spec         *string
		want         []string
	}{
		{name: "defaults", want: defaultsKept},
		{
			// As in Flux, a .sourceignore file alone is enough to drop the
			// defaults: images, archives and CI files are shipped.
			name:         ".sourceignore drops the defaults",
			sourceIgnore: map[string]string{"deploy/.sourceignore": "secret.yaml\n"},
			want:         append(without(onlyVCS, "deploy/secret.yaml"), "deploy/.sourceignore"),
		},
		{
			name: ".sourceignore at the root and below",
			sourceIgnore: map[string]string{
				".sourceignore":        "# docs are not deployed\n/docs/\n*.md\n!logo.png\n",
				"deploy/.sourceignore": "secret.yaml\n",
			},
			// deploy/.sourceignore applies below deploy/ only: the root
			// secret.yaml stays.
			want: append(without(onlyVCS, "docs/", "docs/a.jpg", "docs/b.jpeg", "docs/shot.JPG", "README.md",
				"deploy/secret.yaml"), ".sourceignore", "deploy/.sourceignore"),
		},
		{
			// A file of comments and blank lines gives no pattern.
			name:         ".sourceignore without patterns keeps the defaults",
			sourceIgnore: map[string]string{".sourceignore": "# nothing to ignore\n\n"},
			want:         append(defaultsKept, ".sourceignore"),
		},
		{
			name: "spec.ignore replaces the defaults",
			spec: ptr("/*\n!/deploy\n/deploy/**/*.yaml\n!/deploy/app.yaml\n"),
			want: []string{"deploy/", "deploy/app.yaml"},
		},
		{
			// Flux applies the defaults whenever no pattern is given, an
			// empty spec.ignore included.
			name: "empty spec.ignore keeps the defaults",
			spec: ptr(""),
			want: defaultsKept,
		},
		{
			name: "spec.ignore of comments keeps the defaults",
			spec: ptr("# nothing\n"),
			want: defaultsKept,
		},
		{
			// The root .sourceignore leaves out README.md and Makefile;
			// spec.ignore, read last, takes README.md back.
			name:         "spec.ignore overrules .sourceignore",
			sourceIgnore: map[string]string{".sourceignore": "README.md\nMakefile\n"},
			spec:         ptr("!README.md\n"),
			want:         append(without(onlyVCS, "Makefile"), ".sourceignore"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tree)
			writeTree(t, dir, tt.sourceIgnore)
			filter, err := IgnoreFilter(dir, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := tarNames(t, archiveBytes(t, dir, filter))
			if diff := cmp.Diff(sortedSet(tt.want), sortedSet(got)); diff != "" {
				t.Errorf("archived paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultIgnorePatterns(t *testing.T) {
	t.Parallel()
	want := []string{
		"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
		".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
		"cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
		"**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
	}
	if diff := cmp.Diff(want, DefaultIgnorePatterns()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// without returns names minus drop.
func without(names []string, drop ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(drop, n) {
			out = append(out, n)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func sortedSet(names []string) []string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = ""
	}
	return sortedKeys(m)
}

// BenchmarkArchive packs a tree of 10,000 small files (100 directories of
// 100 files of about 200 bytes).
func BenchmarkArchive(b *testing.B) {
	dir := b.TempDir()
	var total int64
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("dir-%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			body := strings.Repeat(fmt.Sprintf("key-%d-%d: value\n", d, f), 10)
			total += int64(len(body))
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%03d.yaml", f)), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.SetBytes(total)
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		cw := &countingWriter{w: io.Discard}
		if err := Archive(dir, cw, nil); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size), "archive-bytes")
}
