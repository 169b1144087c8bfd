package helmrepository

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// An index behind basic authentication becomes an artifact whose revision
// is the sha256 of its content, served with that digest, that loads as
// the same index; an unchanged index stores nothing and records no event;
// a new chart version gives a new revision.
func TestIndexOverBasicAuth(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{Username: "helm", Password: "s3cret"})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0", Values: "greeting: hello\n"})
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	key := newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	})

	obj := ready(t, key)
	art := obj.Status.Artifact
	if art == nil || !strings.HasPrefix(art.Revision, "sha256:") || art.Revision != art.Digest {
		t.Fatalf("artifact %+v: want revision sha256:<hex> equal to the digest of the index", art)
	}
	if obj.Status.URL != art.URL {
		t.Errorf("status.url %q, want the artifact URL %q", obj.Status.URL, art.URL)
	}
	if want := "index-" + strings.TrimPrefix(art.Revision, "sha256:") + ".yaml"; !strings.HasSuffix(art.Path, "/"+want) {
		t.Errorf("artifact path %s, want .../%s", art.Path, want)
	}
	idx := download(t, art)
	if !idx.Has("app", "1.0.0") || idx.Revision != art.Revision {
		t.Errorf("artifact holds %v (revision %s), want app 1.0.0 at %s", idx.Entries, idx.Revision, art.Revision)
	}
	if !runtime.IsTrue(obj, meta.ArtifactInStorageCondition) {
		t.Errorf("ArtifactInStorage: %+v", obj.Status.Conditions)
	}
	if got := readyMessage(obj); got != "stored artifact: revision '"+art.Revision+"'" {
		t.Errorf("Ready message %q", got)
	}
	first := *art

	// Events are sent in the background: wait for the first.
	deadline := time.Now().Add(30 * time.Second)
	for newRevisionEvents(t, key) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("want one NewRevision event, got %v", describeEvents(events(t, key)))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The same index again: no new artifact, no new event.
	obj = handled(t, key, requestReconcile(t, key))
	if !runtime.IsReady(obj) || *obj.Status.Artifact.Size != *first.Size || obj.Status.Artifact.Path != first.Path ||
		!obj.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Errorf("unchanged index changed the artifact: %+v, was %+v", obj.Status.Artifact, first)
	}
	if files := storedFiles(t, key); len(files) != 1 {
		t.Errorf("unchanged index stored files %v, want one", files)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if n := newRevisionEvents(t, key); n != 1 {
			t.Fatalf("an unchanged index recorded events: %v", describeEvents(events(t, key)))
		}
	}

	srv.Add(t, hs.Chart{Name: "app", Version: "1.1.0"})
	requestReconcile(t, key)
	obj = waitFor(t, key, func(o *sourcev1.HelmRepository) bool {
		return runtime.IsReady(o) && o.Status.Artifact.Revision != first.Revision
	})
	if idx := download(t, obj.Status.Artifact); !idx.Has("app", "1.1.0") {
		t.Errorf("new artifact lacks app 1.1.0: %v", idx.Entries)
	}
}

// A repository that requires TLS client certificates is reached with the
// certificate, key and CA of spec.certSecretRef; without a client
// certificate the handshake fails and says so.
func TestIndexOverTLSClientCertificate(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{TLS: true, AbsoluteURLs: true})
	srv.Add(t, hs.Chart{Name: "app", Version: "0.1.0"})
	newSecret(t, ns, "tls", map[string][]byte{"ca.crt": srv.CA})
	key := newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "tls"}
	})
	obj := failedWith(t, key, sourcev1.IndexationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, srv.URL+"/index.yaml") || !strings.Contains(msg, "certificate") {
		t.Errorf("Ready message %q should name the index URL and the certificate", msg)
	}
	if !runtime.IsTrue(obj, meta.FetchFailedCondition) {
		t.Errorf("FetchFailed: %+v", obj.Status.Conditions)
	}

	updateSecret(t, ns, "tls", map[string][]byte{"ca.crt": srv.CA, "tls.crt": srv.ClientCert, "tls.key": srv.ClientKey})
	requestReconcile(t, key)
	obj = ready(t, key)
	if idx := download(t, obj.Status.Artifact); !idx.Has("app", "0.1.0") {
		t.Errorf("artifact lacks app 0.1.0: %v", idx.Entries)
	}
	if runtime.Has(obj, meta.FetchFailedCondition) {
		t.Errorf("FetchFailed stayed after recovery: %+v", obj.Status.Conditions)
	}
}

// Wrong credentials, an index over --helm-index-max-size and an index that
// is not YAML each say what is wrong, while the last good artifact stays
// in status and is still served.
func TestBadInputKeepsLastArtifact(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{Username: "helm", Password: "s3cret"})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0"})
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	key := newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	})
	good := *ready(t, key).Status.Artifact

	check := func(name, reason string, wantMsg ...string) {
		t.Helper()
		token := requestReconcile(t, key)
		obj := waitFor(t, key, func(o *sourcev1.HelmRepository) bool {
			return o.Status.LastHandledReconcileAt == token && runtime.IsFalse(o, meta.ReadyCondition)
		})
		msg := readyMessage(obj)
		t.Logf("%s: Ready=False %s: %s", name, runtime.Reason(obj, meta.ReadyCondition), msg)
		if got := runtime.Reason(obj, meta.ReadyCondition); got != reason {
			t.Errorf("%s: reason %s, want %s", name, got, reason)
		}
		for _, w := range wantMsg {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: Ready message %q lacks %q", name, msg, w)
			}
		}
		if !runtime.IsTrue(obj, meta.FetchFailedCondition) || runtime.IsStalled(obj) {
			t.Errorf("%s: want FetchFailed and a retry: %+v", name, obj.Status.Conditions)
		}
		if obj.Status.Artifact == nil || obj.Status.Artifact.Revision != good.Revision {
			t.Errorf("%s: artifact %+v, want the last good one", name, obj.Status.Artifact)
		}
		if idx := download(t, &good); !idx.Has("app", "1.0.0") {
			t.Errorf("%s: last good artifact no longer served", name)
		}
	}

	updateSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("wrong")})
	check("wrong credentials", meta.AuthenticationFailedReason, "401", "refused the credentials")
	updateSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})

	srv.WriteIndex(t, []byte("apiVersion: v1\nentries: {}\n# "+strings.Repeat("x", testIndexMaxSize)+"\n"))
	check("over the cap", sourcev1.IndexationFailedReason, "larger than 262144 bytes", "--helm-index-max-size")

	srv.WriteIndex(t, []byte("<html><body>not an index</body></html>\n"))
	check("not YAML", sourcev1.IndexationFailedReason, "is not a valid Helm repository index", srv.URL+"/index.yaml")

	srv.WriteIndex(t, []byte("entries: [unclosed\n"))
	check("broken YAML", sourcev1.IndexationFailedReason, "is not a valid Helm repository index")

	srv.Reindex(t)
	obj := handled(t, key, requestReconcile(t, key))
	if !runtime.IsReady(obj) || obj.Status.Artifact.Revision != good.Revision {
		t.Errorf("fixed index: not Ready at %s: %+v", good.Revision, obj.Status)
	}
}

// spec.timeout bounds the download of an index from a server that never
// answers.
func TestTimeout(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	t.Cleanup(srv.CloseClientConnections)
	key := newRepo(t, ns, "slow", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.Timeout = &metav1.Duration{Duration: time.Second}
	})
	obj := failedWith(t, key, sourcev1.IndexationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "deadline exceeded") {
		t.Errorf("Ready message %q should say the timeout was reached", msg)
	}
}

// What no retry can fix stalls: a provider other than generic, an oci://
// URL with type default.
func TestSpecStalls(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := newRepo(t, ns, "aws", "https://127.0.0.1:1/charts", func(o *sourcev1.HelmRepository) { o.Spec.Provider = "aws" })
	obj := failedWith(t, key, meta.InvalidSpecReason)
	if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), `spec.provider "aws" is not supported`) {
		t.Errorf("provider aws should stall with a message: %+v", obj.Status.Conditions)
	}
	key = newRepo(t, ns, "oci", "oci://127.0.0.1:1/charts", nil)
	obj = failedWith(t, key, sourcev1.URLInvalidReason)
	if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), "set spec.type to oci") {
		t.Errorf("oci:// URL with type default should stall: %+v", obj.Status.Conditions)
	}
}

// A suspended repository is not fetched; resuming it fetches the index;
// deleting it removes its artifacts.
func TestSuspendAndDelete(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0"})
	key := newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) { o.Spec.Suspend = true })
	waitFor(t, key, func(o *sourcev1.HelmRepository) bool { return len(o.Finalizers) > 0 })
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if n := len(srv.Requests()); n != 0 {
			t.Fatalf("a suspended repository was fetched: %v", srv.Requests())
		}
	}
	obj := &sourcev1.HelmRepository{}
	if err := env.Client.Get(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	obj.Spec.Suspend = false
	if err := env.Client.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	ready(t, key)
	if len(storedFiles(t, key)) != 1 {
		t.Fatalf("stored files %v", storedFiles(t, key))
	}
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(storedFiles(t, key)) != 0 || env.Client.Get(context.Background(), key, &sourcev1.HelmRepository{}) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("artifacts %v left after delete", storedFiles(t, key))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
