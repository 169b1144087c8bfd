package install

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The API groups of gotk's kinds.
const (
	sourceGroup       = "source.toolkit.fluxcd.io"
	kustomizeGroup    = "kustomize.toolkit.fluxcd.io"
	helmGroup         = "helm.toolkit.fluxcd.io"
	notificationGroup = "notification.toolkit.fluxcd.io"
	imageGroup        = "image.toolkit.fluxcd.io"
	sourceExtGroup    = "source.extensions.fluxcd.io"
)

// ownKinds are the resources each controller reconciles.
var ownKinds = map[string]struct {
	group     string
	resources []string
}{
	"source":       {sourceGroup, []string{"gitrepositories", "ocirepositories", "helmrepositories", "helmcharts", "buckets", "externalartifacts"}},
	"kustomize":    {kustomizeGroup, []string{"kustomizations"}},
	"helm":         {helmGroup, []string{"helmreleases"}},
	"notification": {notificationGroup, []string{"providers", "alerts", "receivers"}},
	"image":        {imageGroup, []string{"imagerepositories", "imagepolicies", "imageupdateautomations"}},
	// The ArtifactGenerator controller writes ExternalArtifacts too (see
	// clusterRules).
	"artifactgenerator": {sourceExtGroup, []string{"artifactgenerators"}},
}

// needsClusterAdmin reports whether a component applies arbitrary objects
// and so must be able to do anything: the kustomize controller applies
// whatever a Kustomization builds and the helm controller whatever a chart
// renders. Flux grants these cluster-admin for the same reason; tenants are
// confined by spec.serviceAccountName and --default-service-account, which
// the controllers impersonate.
func needsClusterAdmin(component string) bool {
	return component == "kustomize" || component == "helm"
}

// serviceAccountName is the ServiceAccount that component's pod runs as.
func (o Options) serviceAccountName(component string) string {
	return o.DeploymentName(component)
}

// clusterRoleName names a cluster-scoped RBAC object of this install; the
// namespace is part of the name so that two installs do not collide.
func (o Options) clusterRoleName(component string) string {
	return "gotk-" + component + "-controller-" + o.Namespace
}

const leaderElectionRole = "gotk-leader-election"

func rbac(o Options) []client.Object {
	var out []client.Object
	// ServiceAccounts, one per Deployment.
	seen := map[string]bool{}
	var accounts []string
	for _, c := range o.Components {
		sa := o.serviceAccountName(c)
		if seen[sa] {
			continue
		}
		seen[sa] = true
		accounts = append(accounts, sa)
		out = append(out, &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: o.objectMeta(sa, sa),
		})
	}

	// A ClusterRole with only what it needs for each component that does
	// not apply arbitrary objects, bound to the component's account; the
	// others are bound to cluster-admin. An all-in-one account that runs
	// the kustomize or helm controller is bound to cluster-admin alone,
	// since that covers every narrower role.
	admin := false
	for _, c := range o.Components {
		admin = admin || needsClusterAdmin(c)
	}
	for _, c := range o.Components {
		sa := o.serviceAccountName(c)
		switch {
		case needsClusterAdmin(c) && o.AllInOne:
			continue
		case needsClusterAdmin(c):
			out = append(out, o.binding("gotk-"+sa+"-"+o.Namespace, sa, "cluster-admin"))
		case o.AllInOne && admin:
			continue
		default:
			out = append(out, &rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: o.clusterMeta(o.clusterRoleName(c), sa),
				Rules:      clusterRules(c),
			})
			out = append(out, o.binding(o.clusterRoleName(c), sa, o.clusterRoleName(c)))
		}
	}
	if o.AllInOne && admin {
		out = append(out, o.binding("gotk-"+AllInOneName+"-"+o.Namespace, AllInOneName, "cluster-admin"))
	}

	// Leader election happens in the gotk namespace only: a Role, not a
	// ClusterRole.
	out = append(out, &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: o.objectMeta(leaderElectionRole, ""),
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"coordination.k8s.io"},
			Resources: []string{"leases"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}},
	})
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: o.objectMeta(leaderElectionRole, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: leaderElectionRole},
	}
	for _, sa := range accounts {
		rb.Subjects = append(rb.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: o.Namespace})
	}
	return append(out, rb)
}

func (o Options) clusterMeta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: o.commonLabels(component)}
}

func (o Options) binding(name, serviceAccount, clusterRole string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: o.clusterMeta(name, serviceAccount),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: o.Namespace}},
	}
}

// clusterRules are the least privileges of a component that does not apply
// arbitrary objects.
func clusterRules(component string) []rbacv1.PolicyRule {
	own := ownKinds[component]
	rules := ownKindRules(own.group, own.resources)
	rules = append(rules,
		// Credentials, CA bundles, values and substitutions are read from
		// Secrets and ConfigMaps; never written.
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"get", "list", "watch"}},
		// Events explain every state change on the objects.
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	)
	switch component {
	case "source", "image":
		// spec.serviceAccountName names an account whose imagePullSecrets
		// authenticate to OCI registries.
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get", "list", "watch"}})
	}
	switch component {
	case "artifactgenerator":
		// Generators read every source kind, and create, update and
		// delete the ExternalArtifacts they publish.
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{sourceGroup}, Resources: []string{"gitrepositories", "ocirepositories", "buckets", "helmcharts"}, Verbs: []string{"get", "list", "watch"}},
			rbacv1.PolicyRule{APIGroups: []string{sourceGroup}, Resources: []string{"externalartifacts"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{sourceGroup}, Resources: []string{"externalartifacts/status"}, Verbs: []string{"get", "update", "patch"}},
		)
	case "image":
		// Image update automations clone and push the GitRepository they
		// name.
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{sourceGroup}, Resources: []string{"gitrepositories"}, Verbs: []string{"get", "list", "watch"}})
	case "notification":
		// Receivers request a reconcile of the objects they name by
		// patching an annotation on them, and Alerts match event sources.
		for _, c := range []string{"source", "kustomize", "helm", "image"} {
			k := ownKinds[c]
			rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{k.group}, Resources: k.resources, Verbs: []string{"get", "list", "watch", "patch"}})
		}
	}
	return rules
}

func ownKindRules(group string, resources []string) []rbacv1.PolicyRule {
	var sub, fin []string
	for _, r := range resources {
		sub = append(sub, r+"/status")
		fin = append(fin, r+"/finalizers")
	}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{group}, Resources: resources, Verbs: []string{"get", "list", "watch", "update", "patch"}},
		{APIGroups: []string{group}, Resources: sub, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{group}, Resources: fin, Verbs: []string{"update"}},
	}
}
