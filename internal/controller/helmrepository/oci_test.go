package helmrepository

import (
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

// An OCI repository is Ready once the registry answers with the
// credentials of spec.secretRef, and has no artifact; wrong credentials
// say so.
func TestOCIRegistryCredentials(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "helm", "s3cret")
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("wrong")})
	key := newRepo(t, ns, "oci", "oci://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		o.Spec.Insecure = true
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	})
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, reg.Host) || !strings.Contains(msg, "refused the credentials") {
		t.Errorf("Ready message %q should name the registry and the credentials", msg)
	}

	updateSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	requestReconcile(t, key)
	obj = ready(t, key)
	if obj.Status.Artifact != nil || obj.Status.URL != "" {
		t.Errorf("an OCI repository has an artifact: %+v", obj.Status)
	}
	if got := readyMessage(obj); got != "Helm repository is Ready" {
		t.Errorf("Ready message %q", got)
	}
	if runtime.Has(obj, meta.FetchFailedCondition) || runtime.Has(obj, meta.ArtifactInStorageCondition) {
		t.Errorf("conditions after recovery: %+v", obj.Status.Conditions)
	}
}

// A kubernetes.io/dockerconfigjson Secret gives the credentials of the
// registry's host; with no credentials at all the registry refuses.
func TestOCIRegistryDockerConfig(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "helm", "s3cret")
	auth := base64.StdEncoding.EncodeToString([]byte("helm:s3cret"))
	newSecret(t, ns, "docker", map[string][]byte{
		corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + reg.Host + `":{"auth":"` + auth + `"}}}`),
	})
	key := newRepo(t, ns, "docker", "oci://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		o.Spec.Insecure = true
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "docker"}
	})
	ready(t, key)

	key = newRepo(t, ns, "anonymous", "oci://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		o.Spec.Insecure = true
	})
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "asks for credentials") {
		t.Errorf("Ready message %q should say credentials are needed", msg)
	}
}

// A registry without authentication is Ready with no Secret; an oci
// repository whose URL is not oci:// stalls.
func TestOCIRegistryAnonymousAndBadURL(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	key := newRepo(t, ns, "open", "oci://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		o.Spec.Insecure = true
	})
	ready(t, key)
	key = newRepo(t, ns, "https", "https://"+reg.Host+"/charts", func(o *sourcev1.HelmRepository) {
		o.Spec.Type = sourcev1.HelmRepositoryTypeOCI
	})
	obj := failedWith(t, key, sourcev1.URLInvalidReason)
	if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), "must start with oci://") {
		t.Errorf("https URL with type oci should stall: %+v", obj.Status.Conditions)
	}
}
