package main

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	imagev1 "github.com/gotk-dev/gotk/api/image/v1"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	sourceextv1beta1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
)

// gotkKind describes one of the 15 gotk kinds as the CLI shows and names
// it.
type gotkKind struct {
	// GVK is the served (storage) version of the kind.
	GVK schema.GroupVersionKind
	// Plural is the resource name, as kubectl spells it.
	Plural string
	// Aliases are other names users type: singular, short names.
	Aliases []string
	// Command is how gotk's commands name the kind ("source git").
	Command string
	// Source is true for kinds that publish an artifact.
	Source bool
	// revision is the path of the field that the REVISION column shows.
	revision []string
}

// gotkKinds lists every kind, sources first, as `gotk get all` and `gotk
// stats` print them.
var gotkKinds = []gotkKind{
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.GitRepositoryKind), Plural: "gitrepositories", Aliases: []string{"gitrepo"}, Command: "source git", Source: true, revision: artifactRevision},
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.OCIRepositoryKind), Plural: "ocirepositories", Aliases: []string{"ocirepo"}, Command: "source oci", Source: true, revision: artifactRevision},
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.HelmRepositoryKind), Plural: "helmrepositories", Aliases: []string{"helmrepo"}, Command: "source helm", Source: true, revision: artifactRevision},
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.HelmChartKind), Plural: "helmcharts", Aliases: []string{"hc"}, Command: "source chart", Source: true, revision: artifactRevision},
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.BucketKind), Plural: "buckets", Command: "source bucket", Source: true, revision: artifactRevision},
	{GVK: sourcev1.GroupVersion.WithKind(sourcev1.ExternalArtifactKind), Plural: "externalartifacts", Aliases: []string{"ea"}, Command: "source external", Source: true, revision: artifactRevision},
	{GVK: sourceextv1beta1.GroupVersion.WithKind(sourceextv1beta1.ArtifactGeneratorKind), Plural: "artifactgenerators", Aliases: []string{"ag"}, Command: "artifact generator"},
	{GVK: kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind), Plural: "kustomizations", Aliases: []string{"ks"}, Command: "kustomization", revision: []string{"status", "lastAppliedRevision"}},
	{GVK: helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind), Plural: "helmreleases", Aliases: []string{"hr"}, Command: "helmrelease", revision: []string{"status", "lastAttemptedRevision"}},
	{GVK: notificationv1beta3.GroupVersion.WithKind(notificationv1beta3.ProviderKind), Plural: "providers", Command: "alert-provider"},
	{GVK: notificationv1beta3.GroupVersion.WithKind(notificationv1beta3.AlertKind), Plural: "alerts", Command: "alert"},
	{GVK: notificationv1.GroupVersion.WithKind(notificationv1.ReceiverKind), Plural: "receivers", Command: "receiver"},
	{GVK: imagev1.GroupVersion.WithKind(imagev1.ImageRepositoryKind), Plural: "imagerepositories", Aliases: []string{"imgrepo"}, Command: "image repository"},
	{GVK: imagev1.GroupVersion.WithKind(imagev1.ImagePolicyKind), Plural: "imagepolicies", Aliases: []string{"imgpol"}, Command: "image policy", revision: []string{"status", "latestRef", "tag"}},
	{GVK: imagev1.GroupVersion.WithKind(imagev1.ImageUpdateAutomationKind), Plural: "imageupdateautomations", Aliases: []string{"iua"}, Command: "image update", revision: []string{"status", "lastPushCommit"}},
}

var artifactRevision = []string{"status", "artifact", "revision"}

// The two kinds most commands work on.
var (
	gitRepositoryKind = mustKind(sourcev1.GitRepositoryKind)
	kustomizationKind = mustKind(kustomizev1.KustomizationKind)
)

func mustKind(kind string) gotkKind {
	for _, k := range gotkKinds {
		if k.GVK.Kind == kind {
			return k
		}
	}
	panic("unknown gotk kind " + kind)
}

// Kind is the kind's name, such as "GitRepository".
func (k gotkKind) Kind() string { return k.GVK.Kind }

// ListGVK is the kind of the kind's lists.
func (k gotkKind) ListGVK() schema.GroupVersionKind {
	return k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List")
}

// Revision is what the REVISION column shows for obj.
func (k gotkKind) Revision(obj *unstructured.Unstructured) string {
	if len(k.revision) == 0 {
		return ""
	}
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, k.revision...)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// lookupKind finds a gotk kind by any of its names, case-insensitively:
// "GitRepository", "gitrepositories", "gitrepo", "ks"...
func lookupKind(name string) (gotkKind, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, k := range gotkKinds {
		if n == strings.ToLower(k.Kind()) || n == k.Plural {
			return k, true
		}
		for _, a := range k.Aliases {
			if n == a {
				return k, true
			}
		}
	}
	return gotkKind{}, false
}

// kindNames lists the kind names, sorted, for errors and completion.
func kindNames() []string {
	out := make([]string, 0, len(gotkKinds))
	for _, k := range gotkKinds {
		out = append(out, k.Kind())
	}
	sort.Strings(out)
	return out
}

// isGotkGroup reports whether an API group (or an apiVersion such as
// "source.toolkit.fluxcd.io/v1") belongs to gotk.
func isGotkGroup(groupOrAPIVersion string) bool {
	group, _, _ := strings.Cut(groupOrAPIVersion, "/")
	return strings.HasSuffix(group, ".toolkit.fluxcd.io") || group == sourceextv1beta1.GroupVersion.Group
}
