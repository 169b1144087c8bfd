package artifactgenerator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
)

// evilTarball is a tar.gz with an entry that climbs out with "..".
func evilTarball(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("escaped\n")
	if err := tw.WriteHeader(&tar.Header{Name: "../../escaped", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
