package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// errReadOnly is returned by every write to the artifact.
var errReadOnly = errors.New("the artifact is read-only during a build")

// confinedFS is the file system that kustomize sees during a build: the
// artifact on disk, read-only, where every path is resolved (symlinks
// included) and refused unless it stays inside the artifact root, plus a
// few files kept in memory (the generated or amended kustomization) that
// shadow the disk. When remote bases are allowed, the directories that
// kustomize clones them into are readable too.
type confinedFS struct {
	root      string            // absolute, symlinks resolved
	overrides map[string][]byte // absolute path -> content
	tmpDir    string            // resolved os.TempDir(), "" when clones are refused

	// keys, when set, decrypt the SOPS-encrypted files that the build
	// reads, in memory: the plaintext is never written anywhere.
	keys Decrypter
	// decrypted holds the plaintext of the files decrypted so far, by
	// resolved path.
	decrypted map[string][]byte
	// secrets are the decrypted values, to redact from messages.
	secrets []string
	// decryptErr is the first decryption that failed.
	decryptErr error
}

var _ filesys.FileSystem = (*confinedFS)(nil)

func newConfinedFS(root string, allowClones bool) *confinedFS {
	c := &confinedFS{root: root, overrides: map[string][]byte{}}
	if allowClones {
		if d, err := filepath.EvalSymlinks(os.TempDir()); err == nil {
			c.tmpDir = d
		}
	}
	return c
}

// within reports whether p is root or inside it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// rel returns p relative to the root, for error messages.
func (c *confinedFS) rel(p string) string {
	if r, err := filepath.Rel(c.root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// resolve makes p absolute, follows its symlinks (those of the part that
// exists) and refuses the result unless it is inside the root or a
// kustomize clone directory.
func (c *confinedFS) resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, ok := c.overrides[abs]; ok {
		return abs, nil
	}
	real, err := resolveExisting(abs)
	if err != nil {
		return "", err
	}
	if within(c.root, real) || c.isClone(real) {
		return real, nil
	}
	if within(c.root, abs) {
		return "", fmt.Errorf("%s: a symlink leads outside the artifact root", c.rel(abs))
	}
	return "", fmt.Errorf("%s is outside the artifact root", p)
}

// isClone reports whether p is in a directory that kustomize made for
// cloning a remote base (os.MkdirTemp("", "kustomize-")).
func (c *confinedFS) isClone(p string) bool {
	if c.tmpDir == "" || !within(c.tmpDir, p) || p == c.tmpDir {
		return false
	}
	first := strings.SplitN(strings.TrimPrefix(p, c.tmpDir+string(filepath.Separator)), string(filepath.Separator), 2)[0]
	return strings.HasPrefix(first, "kustomize-")
}

// resolveExisting follows the symlinks of the longest existing prefix of
// the absolute path p and appends the rest unchanged.
func resolveExisting(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p, nil
	}
	realParent, err := resolveExisting(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(realParent, filepath.Base(p)), nil
}

// override serves data at the absolute path p instead of the disk.
func (c *confinedFS) override(p string, data []byte) { c.overrides[p] = data }

func (c *confinedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (c *confinedFS) Mkdir(string) error                  { return errReadOnly }
func (c *confinedFS) MkdirAll(string) error               { return errReadOnly }
func (c *confinedFS) WriteFile(string, []byte) error      { return errReadOnly }

// RemoveAll is allowed only on remote-base clones, which kustomize removes
// after the build.
func (c *confinedFS) RemoveAll(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	if !c.isClone(abs) {
		return errReadOnly
	}
	return os.RemoveAll(abs)
}

func (c *confinedFS) Open(p string) (filesys.File, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	if data, ok := c.overrides[r]; ok {
		return &memFile{Reader: bytes.NewReader(data), name: r, size: int64(len(data))}, nil
	}
	if c.keys != nil {
		if info, err := os.Stat(r); err == nil && !info.IsDir() {
			data, err := c.readDecrypted(r)
			if err != nil {
				return nil, err
			}
			return &memFile{Reader: bytes.NewReader(data), name: r, size: int64(len(data))}, nil
		}
	}
	return os.Open(r)
}

func (c *confinedFS) IsDir(p string) bool {
	r, err := c.resolve(p)
	if err != nil {
		return false
	}
	if _, ok := c.overrides[r]; ok {
		return false
	}
	info, err := os.Stat(r)
	return err == nil && info.IsDir()
}

func (c *confinedFS) Exists(p string) bool {
	r, err := c.resolve(p)
	if err != nil {
		return false
	}
	if _, ok := c.overrides[r]; ok {
		return true
	}
	_, err = os.Stat(r)
	return err == nil
}

func (c *confinedFS) ReadDir(p string) ([]string, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(r)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, e := range entries {
		seen[e.Name()] = true
		names = append(names, e.Name())
	}
	for o := range c.overrides {
		if filepath.Dir(o) == r && !seen[filepath.Base(o)] {
			names = append(names, filepath.Base(o))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (c *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r, err := c.resolve(p)
	if err != nil {
		return "", "", err
	}
	if _, ok := c.overrides[r]; !ok {
		info, err := os.Stat(r)
		if err != nil {
			return "", "", err
		}
		if info.IsDir() {
			return filesys.ConfirmedDir(r), "", nil
		}
	}
	return filesys.ConfirmedDir(filepath.Dir(r)), filepath.Base(r), nil
}

func (c *confinedFS) Glob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if _, err := c.resolve(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if !filesys.IsHiddenFilePath(pattern) {
		out = filesys.RemoveHiddenFiles(out)
	}
	return out, nil
}

func (c *confinedFS) ReadFile(p string) ([]byte, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	if data, ok := c.overrides[r]; ok {
		return bytes.Clone(data), nil
	}
	return c.readDecrypted(r)
}

// readDecrypted reads the file at the resolved path r, decrypting it in
// memory when it is SOPS-encrypted and the build has keys.
func (c *confinedFS) readDecrypted(r string) ([]byte, error) {
	data, err := os.ReadFile(r)
	if err != nil || c.keys == nil {
		return data, err
	}
	if plain, ok := c.decrypted[r]; ok {
		return bytes.Clone(plain), nil
	}
	if !c.keys.Encrypted(r, data) {
		return data, nil
	}
	plain, secrets, err := c.keys.Decrypt(c.rel(r), data)
	if err != nil {
		if c.decryptErr == nil {
			c.decryptErr = err
		}
		return nil, err
	}
	if c.decrypted == nil {
		c.decrypted = map[string][]byte{}
	}
	c.decrypted[r] = plain
	c.secrets = append(c.secrets, secrets...)
	return bytes.Clone(plain), nil
}

func (c *confinedFS) Walk(p string, walkFn filepath.WalkFunc) error {
	r, err := c.resolve(p)
	if err != nil {
		return walkFn(p, nil, err)
	}
	return filepath.Walk(r, func(path string, info fs.FileInfo, err error) error {
		if err == nil && info.Mode()&fs.ModeSymlink != 0 {
			if _, rerr := c.resolve(path); rerr != nil {
				return walkFn(path, info, rerr)
			}
		}
		return walkFn(path, info, err)
	})
}

// memFile is a read-only in-memory file of confinedFS.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

var _ filesys.File = (*memFile)(nil)

func (f *memFile) Close() error               { return nil }
func (f *memFile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (f *memFile) Stat() (os.FileInfo, error) { return memInfo{f}, nil }

// memInfo describes a memFile.
type memInfo struct{ f *memFile }

func (i memInfo) Name() string       { return filepath.Base(i.f.name) }
func (i memInfo) Size() int64        { return i.f.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
