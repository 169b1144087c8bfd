package git

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	hash1 = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
	hash2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParseRevision(t *testing.T) {
	tests := []struct {
		in      string
		want    Revision
		wantErr bool
	}{
		{in: "main@sha1:" + hash1, want: Revision{Ref: "main", Algo: SHA1, Hash: hash1}},
		{in: "v1.0.0@sha1:" + hash1, want: Revision{Ref: "v1.0.0", Algo: SHA1, Hash: hash1}},
		{in: "refs/pull/1/head@sha1:" + hash1, want: Revision{Ref: "refs/pull/1/head", Algo: SHA1, Hash: hash1}},
		{in: "feature@x@sha1:" + hash1, want: Revision{Ref: "feature@x", Algo: SHA1, Hash: hash1}},
		{in: "sha1:" + hash1, want: Revision{Algo: SHA1, Hash: hash1}},
		{in: "main@sha256:" + hash2, want: Revision{Ref: "main", Algo: SHA256, Hash: hash2}},
		{in: "", wantErr: true},
		{in: "main", wantErr: true},
		{in: "main/" + hash1, wantErr: true},
		{in: "@sha1:" + hash1, wantErr: true},
		{in: "main@md5:" + hash1, wantErr: true},
		{in: "main@sha1:" + strings.ToUpper(hash1), wantErr: true},
		{in: "main@sha1:" + hash1[:39], wantErr: true},
		{in: "main@sha256:" + hash1, wantErr: true},
		{in: "ma in@sha1:" + hash1, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRevision(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRevision(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRevision(%q) (-want +got):\n%s", tt.in, diff)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("ParseRevision(%q).String() = %q", tt.in, got.String())
		}
	}
}

func TestFormatRevision(t *testing.T) {
	if got, want := FormatRevision("main", hash1), "main@sha1:"+hash1; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := FormatRevision("", hash1), "sha1:"+hash1; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTransformRevision(t *testing.T) {
	tests := map[string]string{
		"main/" + hash1:                  "main@sha1:" + hash1,
		"feature/x/" + hash1:             "feature/x@sha1:" + hash1,
		"v1.0.0/" + hash1:                "v1.0.0@sha1:" + hash1,
		"HEAD/" + hash1:                  "sha1:" + hash1,
		hash1:                            "sha1:" + hash1,
		"main/" + strings.ToUpper(hash1): "main@sha1:" + hash1,
		"main@sha1:" + hash1:             "main@sha1:" + hash1,
		"sha1:" + hash1:                  "sha1:" + hash1,
		"main/abc":                       "main/abc",
		"/" + hash1:                      "/" + hash1,
		"":                               "",
		"1.2.3":                          "1.2.3",
		"sha256:" + hash2:                "sha256:" + hash2,
	}
	for in, want := range tests {
		if got := TransformRevision(in); got != want {
			t.Errorf("TransformRevision(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"main@sha1:" + hash1, "sha1:" + hash1, "a@b@sha256:" + hash2, "main/" + hash1, "", "@", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRevision(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRevision(%q).String() = %q", s, r.String())
		}
		again, err := ParseRevision(r.String())
		if err != nil || again != r {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzTransformRevision(f *testing.F) {
	for _, s := range []string{"main/" + hash1, hash1, "HEAD/" + hash1, "main@sha1:" + hash1, "x/y/z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := TransformRevision(s)
		if TransformRevision(got) != got {
			t.Fatalf("TransformRevision is not idempotent on %q: %q then %q", s, got, TransformRevision(got))
		}
		if got != s {
			if _, err := ParseRevision(got); err != nil {
				t.Fatalf("TransformRevision(%q) = %q, which does not parse: %v", s, got, err)
			}
		}
	})
}

func FuzzVerifySSHSignature(f *testing.F) {
	f.Add([]byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n"), []byte("msg"))
	f.Add([]byte("garbage"), []byte{})
	f.Fuzz(func(t *testing.T, sig, msg []byte) {
		// Nothing may verify without a trusted key, and nothing may panic.
		if _, err := verifySSHSignature(sig, msg, gitNamespace, nil); err == nil {
			t.Fatal("verified with no trusted key")
		}
	})
}
