package helmchart

import (
	"strings"
	"testing"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

// ociRepo creates a HelmRepository of type oci on the registry, with the
// Secret named secret (none when "").
func ociRepo(t *testing.T, ns, name string, reg *ociregistry.Registry, secret string) {
	t.Helper()
	newRepo(t, ns, name, "oci://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		o.Spec.Insecure = true
		if secret != "" {
			o.Spec.SecretRef = &meta.LocalObjectReference{Name: secret}
		}
	})
}

// A chart pushed with Helm's registry client to a registry that needs
// credentials is pulled at the newest tag in range with the login data of
// the OCI HelmRepository: the artifact is the pushed chart layer, byte for
// byte. A new version pushed into range gives a new artifact; one outside
// the range does not.
func TestChartFromOCIRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "helm", "s3cret")
	dir := t.TempDir()
	digests := map[string]string{}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		digests[v] = reg.PushChart(t, hs.Package(t, hs.Chart{Name: "app", Version: v, Values: "greeting: v" + v + "\n"}, dir), "charts")
	}
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	ociRepo(t, ns, "oci", reg, "auth")

	key := newChart(t, ns, "app", "oci", "app", "1.x", nil)
	obj := readyAt(t, key, "1.1.0")
	if obj.Status.Artifact.Digest != digests["1.1.0"] {
		t.Errorf("artifact digest %s, pushed layer %s", obj.Status.Artifact.Digest, digests["1.1.0"])
	}
	if ch := download(t, obj.Status.Artifact); ch.Name() != "app" || ch.Values["greeting"] != "v1.1.0" {
		t.Errorf("artifact holds %s with values %v", ch.Name(), ch.Values)
	}
	if obj.Status.ObservedChartName != "app" || obj.Status.ObservedSourceArtifactRevision != "" {
		t.Errorf("status %+v", obj.Status)
	}

	reg.PushChart(t, hs.Package(t, hs.Chart{Name: "app", Version: "3.0.0"}, dir), "charts")
	env.RequestReconcile(t, &sourcev1.HelmChart{}, key)
	obj = readyAt(t, key, "1.1.0")
	if obj.Status.Artifact.Digest != digests["1.1.0"] {
		t.Error("a version outside the range changed the artifact")
	}

	digest := reg.PushChart(t, hs.Package(t, hs.Chart{Name: "app", Version: "1.2.0"}, dir), "charts")
	env.RequestReconcile(t, &sourcev1.HelmChart{}, key)
	obj = readyAt(t, key, "1.2.0")
	if obj.Status.Artifact.Digest != digest {
		t.Errorf("new artifact digest %s, pushed %s", obj.Status.Artifact.Digest, digest)
	}
	download(t, obj.Status.Artifact)

	// An exact version is pulled without listing tags; valuesFiles
	// repackage it as for an HTTP repository.
	exact := newChart(t, ns, "exact", "oci", "app", "2.0.0", func(o *sourcev1.HelmChart) {
		o.Spec.ValuesFiles = []string{"values.yaml"}
	})
	if ch := download(t, readyAt(t, exact, "2.0.0+1").Status.Artifact); ch.Values["greeting"] != "v2.0.0" {
		t.Errorf("values %v", ch.Values)
	}
}

// Wrong credentials, a chart the registry does not hold and no tag in
// range each say so, and the last good artifact stays served.
func TestChartFromOCIRepositoryBadInput(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "helm", "s3cret")
	reg.PushChart(t, hs.Package(t, hs.Chart{Name: "app", Version: "1.0.0"}, t.TempDir()), "charts")
	newSecret(t, ns, "wrong", map[string][]byte{"username": []byte("helm"), "password": []byte("wrong")})
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	ociRepo(t, ns, "wrong", reg, "wrong")
	ociRepo(t, ns, "oci", reg, "auth")

	obj := failedWith(t, newChart(t, ns, "denied", "wrong", "app", "", nil), meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, reg.Host) || !strings.Contains(msg, "refused the credentials") {
		t.Errorf("Ready message %q should name the registry and the credentials", msg)
	}
	obj = failedWith(t, newChart(t, ns, "missing", "oci", "nope", "", nil), sourcev1.ChartPullFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "charts/nope") {
		t.Errorf("Ready message %q should name the chart", msg)
	}

	key := newChart(t, ns, "app", "oci", "app", "1.x", nil)
	good := *readyAt(t, key, "1.0.0").Status.Artifact
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.Version = ">=2" })
	obj = failedWith(t, key, sourcev1.ChartPullFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, `no version of chart 'app' matches spec.version ">=2" (the newest is 1.0.0)`) {
		t.Errorf("Ready message %q", msg)
	}
	if obj.Status.Artifact == nil || obj.Status.Artifact.Digest != good.Digest {
		t.Errorf("artifact %+v, want the last good one", obj.Status.Artifact)
	}
	download(t, &good)
}
