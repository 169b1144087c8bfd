package install

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func generate(t *testing.T, mutate func(*Options)) *Manifests {
	t.Helper()
	o := DefaultOptions()
	o.Version = "v1.2.3"
	if mutate != nil {
		mutate(&o)
	}
	m, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return m
}

func objectsOf[T client.Object](m *Manifests) []T {
	var out []T
	for _, o := range m.Objects {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// optionSets are the shapes of install the tests below check for
// consistency.
var optionSets = map[string]func(*Options){
	"default":          nil,
	"all-in-one":       func(o *Options) { o.AllInOne = true },
	"source+notify":    func(o *Options) { o.Components = []string{"notification", "source"} },
	"aio-source+notif": func(o *Options) { o.AllInOne = true; o.Components = []string{"source", "notification"} },
	"kustomize-only":   func(o *Options) { o.Components = []string{"kustomize"}; o.NetworkPolicy = false },
	"other-namespace":  func(o *Options) { o.Namespace = "gitops"; o.ClusterDomain = "example.internal" },
	"with-generator":   func(o *Options) { o.Components = append(DefaultOptions().Components, "artifactgenerator") },
}

// The ArtifactGenerator controller is optional, as Flux's source-watcher
// is; asked for, it runs in the source controller's Deployment (whose
// storage it shares) with a ClusterRole of its own that can write
// ExternalArtifacts; without source it is refused.
func TestGenerateWithArtifactGenerator(t *testing.T) {
	m := generate(t, func(o *Options) { o.Components = []string{"source", "kustomize", "artifactgenerator"} })
	var names []string
	for _, d := range objectsOf[*appsv1.Deployment](m) {
		names = append(names, d.Name)
		if d.Name == "source-controller" && !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--controllers=source,artifactgenerator") {
			t.Errorf("source-controller args %v, want --controllers=source,artifactgenerator", d.Spec.Template.Spec.Containers[0].Args)
		}
	}
	if want := []string{"source-controller", "kustomize-controller"}; !slices.Equal(names, want) {
		t.Errorf("Deployments %v, want %v", names, want)
	}
	found := false
	for _, r := range objectsOf[*rbacv1.ClusterRole](m) {
		if r.Name != "gotk-artifactgenerator-controller-gotk-system" {
			continue
		}
		found = true
		ok := false
		for _, rule := range r.Rules {
			if slices.Contains(rule.Resources, "externalartifacts") && slices.Contains(rule.Verbs, "create") && slices.Contains(rule.Verbs, "delete") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("ClusterRole %s cannot create and delete externalartifacts: %+v", r.Name, r.Rules)
		}
	}
	if !found {
		t.Error("no ClusterRole for the artifactgenerator controller")
	}
	for _, b := range objectsOf[*rbacv1.ClusterRoleBinding](m) {
		if b.RoleRef.Name == "gotk-artifactgenerator-controller-gotk-system" && b.Subjects[0].Name != "source-controller" {
			t.Errorf("the artifactgenerator role is bound to %s, want the source controller's account", b.Subjects[0].Name)
		}
	}

	o := DefaultOptions()
	if slices.Contains(o.Components, "artifactgenerator") {
		t.Errorf("default components %v include the optional artifactgenerator", o.Components)
	}
	o.Components = []string{"kustomize", "artifactgenerator"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "artifactgenerator runs in the source controller's Deployment") {
		t.Errorf("artifactgenerator without source: %v", err)
	}
}

func TestGenerateDefaults(t *testing.T) {
	m := generate(t, nil)
	if len(m.CRDs) != 15 {
		t.Errorf("got %d CRDs, want 15", len(m.CRDs))
	}
	deploys := objectsOf[*appsv1.Deployment](m)
	var names []string
	for _, d := range deploys {
		names = append(names, d.Name)
	}
	want := []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller", "image-controller"}
	if !slices.Equal(names, want) {
		t.Errorf("Deployments %v, want %v", names, want)
	}
	for _, d := range deploys {
		comp := strings.TrimSuffix(d.Name, "-controller")
		ctr := d.Spec.Template.Spec.Containers[0]
		if ctr.Image != "ghcr.io/gotk-dev/gotk-controller:v1.2.3" {
			t.Errorf("%s: image %s", d.Name, ctr.Image)
		}
		if !slices.Contains(ctr.Args, "--controllers="+comp) {
			t.Errorf("%s: args %v lack --controllers=%s", d.Name, ctr.Args, comp)
		}
		if !slices.Contains(ctr.Args, "--events-addr=http://notification-controller.gotk-system.svc.cluster.local./") {
			t.Errorf("%s: args %v lack --events-addr", d.Name, ctr.Args)
		}
		if listens := slices.Contains(ctr.Args, "--events-listen-addr=:9690"); listens != (comp == "notification") {
			t.Errorf("%s: --events-listen-addr present=%v", d.Name, listens)
		}
		hasStorage := slices.Contains(ctr.Args, "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.")
		if hasStorage != (comp == "source") {
			t.Errorf("%s: storage flags present=%v", d.Name, hasStorage)
		}
		checkHardened(t, d)
		for k, v := range map[string]string{PartOfLabel: "gotk", ComponentLabel: d.Name, VersionLabel: "v1.2.3"} {
			if d.Labels[k] != v || d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: label %s=%q (pod %q), want %q", d.Name, k, d.Labels[k], d.Spec.Template.Labels[k], v)
			}
		}
	}
	// Only the source, notification and image controllers get their own
	// ClusterRoles; kustomize and helm are bound to cluster-admin.
	var roles []string
	for _, r := range objectsOf[*rbacv1.ClusterRole](m) {
		roles = append(roles, r.Name)
	}
	if want := []string{"gotk-source-controller-gotk-system", "gotk-notification-controller-gotk-system", "gotk-image-controller-gotk-system"}; !slices.Equal(roles, want) {
		t.Errorf("ClusterRoles %v, want %v", roles, want)
	}
	admins := map[string]bool{}
	for _, b := range objectsOf[*rbacv1.ClusterRoleBinding](m) {
		if b.RoleRef.Name == "cluster-admin" {
			admins[b.Subjects[0].Name] = true
		}
	}
	if len(admins) != 2 || !admins["kustomize-controller"] || !admins["helm-controller"] {
		t.Errorf("cluster-admin bound to %v, want kustomize-controller and helm-controller", admins)
	}
	if n := len(objectsOf[*networkingv1.NetworkPolicy](m)); n != 3 {
		t.Errorf("got %d NetworkPolicies, want 3", n)
	}
}

func checkHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	sc := ctr.SecurityContext
	switch {
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: root filesystem is writable", d.Name)
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0:
		t.Errorf("%s: may run as root", d.Name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: allows privilege escalation", d.Name)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Errorf("%s: capabilities not dropped", d.Name)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: no RuntimeDefault seccomp profile", d.Name)
	case ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero():
		t.Errorf("%s: no memory request/limit", d.Name)
	case ctr.LivenessProbe == nil || ctr.LivenessProbe.HTTPGet.Path != "/healthz" || ctr.ReadinessProbe.HTTPGet.Path != "/readyz":
		t.Errorf("%s: probes %+v %+v", d.Name, ctr.LivenessProbe, ctr.ReadinessProbe)
	case len(ctr.Env) != 3 || ctr.Env[0].Name != "RUNTIME_NAMESPACE" || ctr.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace":
		t.Errorf("%s: env %+v", d.Name, ctr.Env)
	case ctr.Env[1].Name != "GOMAXPROCS" || ctr.Env[1].ValueFrom.ResourceFieldRef.Resource != "limits.cpu" ||
		ctr.Env[2].Name != "GOMEMLIMIT" || ctr.Env[2].ValueFrom.ResourceFieldRef.Resource != "limits.memory":
		t.Errorf("%s: the Go runtime does not follow the container's limits: env %+v", d.Name, ctr.Env)
	}
	mounts := map[string]bool{}
	for _, vm := range ctr.VolumeMounts {
		mounts[vm.MountPath] = true
	}
	if !mounts["/tmp"] {
		t.Errorf("%s: no /tmp volume", d.Name)
	}
	if slices.ContainsFunc(ctr.Args, func(a string) bool { return strings.HasPrefix(a, "--storage-path=") }) && !mounts["/data"] {
		t.Errorf("%s: storage path without a /data volume", d.Name)
	}
}

// Every Service must select a Deployment of the same install and name a
// port that its container has; ports in one pod must not clash; every
// account a pod uses must exist.
func TestGenerateIsConsistent(t *testing.T) {
	for name, mutate := range optionSets {
		t.Run(name, func(t *testing.T) {
			m := generate(t, mutate)
			deploys := objectsOf[*appsv1.Deployment](m)
			accounts := map[string]bool{}
			for _, sa := range objectsOf[*corev1.ServiceAccount](m) {
				accounts[sa.Name] = true
			}
			for _, d := range deploys {
				checkHardened(t, d)
				if !accounts[d.Spec.Template.Spec.ServiceAccountName] {
					t.Errorf("%s runs as %q, which is not created", d.Name, d.Spec.Template.Spec.ServiceAccountName)
				}
				numbers, names := map[int32]bool{}, map[string]bool{}
				for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
					if numbers[p.ContainerPort] || names[p.Name] {
						t.Errorf("%s: port %d/%s declared twice", d.Name, p.ContainerPort, p.Name)
					}
					numbers[p.ContainerPort], names[p.Name] = true, true
				}
				sel, _ := labels.ValidatedSelectorFromSet(d.Spec.Selector.MatchLabels)
				if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					t.Errorf("%s: selector does not match its pods", d.Name)
				}
			}
			for _, svc := range objectsOf[*corev1.Service](m) {
				var target *appsv1.Deployment
				for _, d := range deploys {
					if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
						target = d
					}
				}
				if target == nil {
					t.Errorf("Service %s selects no Deployment", svc.Name)
					continue
				}
				for _, sp := range svc.Spec.Ports {
					found := false
					for _, cp := range target.Spec.Template.Spec.Containers[0].Ports {
						found = found || cp.Name == sp.TargetPort.StrVal
					}
					if !found {
						t.Errorf("Service %s port %s targets %q, which %s does not have", svc.Name, sp.Name, sp.TargetPort.StrVal, target.Name)
					}
				}
			}
			o := m.Options
			for _, want := range []string{"source-controller", "notification-controller", "webhook-receiver"} {
				has := slices.ContainsFunc(objectsOf[*corev1.Service](m), func(s *corev1.Service) bool { return s.Name == want })
				needed := (want == "source-controller" && o.Has("source")) || (want != "source-controller" && o.Has("notification"))
				if has != needed {
					t.Errorf("Service %s present=%v, want %v", want, has, needed)
				}
			}
			for _, obj := range objectsOf[client.Object](m) {
				if obj.GetLabels()[PartOfLabel] != "gotk" || obj.GetLabels()[InstanceLabel] != o.Namespace {
					t.Errorf("%T %s lacks the gotk labels: %v", obj, obj.GetName(), obj.GetLabels())
				}
				if ns := obj.GetNamespace(); ns != "" && ns != o.Namespace {
					t.Errorf("%T %s is in namespace %s, want %s", obj, obj.GetName(), ns, o.Namespace)
				}
			}
			if got := len(objectsOf[*networkingv1.NetworkPolicy](m)) > 0; got != o.NetworkPolicy {
				t.Errorf("NetworkPolicies present=%v, want %v", got, o.NetworkPolicy)
			}
		})
	}
}

func TestGenerateAllInOne(t *testing.T) {
	m := generate(t, func(o *Options) { o.AllInOne = true })
	deploys := objectsOf[*appsv1.Deployment](m)
	if len(deploys) != 1 || deploys[0].Name != AllInOneName {
		t.Fatalf("want one Deployment %s, got %d", AllInOneName, len(deploys))
	}
	args := deploys[0].Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--controllers=source,kustomize,helm,notification,image") {
		t.Errorf("args %v", args)
	}
	if n := len(objectsOf[*rbacv1.ClusterRole](m)); n != 0 {
		t.Errorf("an all-in-one account bound to cluster-admin needs no narrower ClusterRole; got %d", n)
	}
	bindings := objectsOf[*rbacv1.ClusterRoleBinding](m)
	if len(bindings) != 1 || bindings[0].RoleRef.Name != "cluster-admin" || bindings[0].Subjects[0].Name != AllInOneName {
		t.Errorf("bindings %+v", bindings)
	}

	// Without kustomize and helm, the shared account gets the narrow roles.
	m = generate(t, func(o *Options) { o.AllInOne = true; o.Components = []string{"image", "source"} })
	if n := len(objectsOf[*rbacv1.ClusterRole](m)); n != 2 {
		t.Errorf("got %d ClusterRoles, want 2", n)
	}
	for _, b := range objectsOf[*rbacv1.ClusterRoleBinding](m) {
		if b.RoleRef.Name == "cluster-admin" {
			t.Errorf("source and image must not get cluster-admin: %s", b.Name)
		}
	}
	if args := objectsOf[*appsv1.Deployment](m)[0].Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--controllers=source,image") {
		t.Errorf("components are not in canonical order: %v", args)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Options)
		want   string
	}{
		"unknown component": {func(o *Options) { o.Components = []string{"source", "flux"} }, `unknown controller "flux" in --components`},
		"no component":      {func(o *Options) { o.Components = nil }, "--components is empty"},
		"bad tag":           {func(o *Options) { o.Version = "v1 beta" }, "not a valid image tag"},
		"bad log level":     {func(o *Options) { o.LogLevel = "loud" }, "--log-level must be"},
		"bad namespace":     {func(o *Options) { o.Namespace = "Gotk_System" }, "not a valid namespace name"},
		"bad registry":      {func(o *Options) { o.Registry = "" }, "--registry"},
		"bad pull secret":   {func(o *Options) { o.ImagePullSecret = "no/slash" }, "--image-pull-secret"},
		"bad domain":        {func(o *Options) { o.ClusterDomain = "under_score" }, "--cluster-domain"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := DefaultOptions()
			tc.mutate(&o)
			_, err := Generate(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	o := DefaultOptions()
	o.Registry = "localhost:5000/gotk/"
	o.ImagePullSecret = "regcred"
	m, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	d := objectsOf[*appsv1.Deployment](m)[0]
	if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, "localhost:5000/gotk/gotk-controller:") {
		t.Errorf("image %s", img)
	}
	if ps := d.Spec.Template.Spec.ImagePullSecrets; len(ps) != 1 || ps[0].Name != "regcred" {
		t.Errorf("imagePullSecrets %v", ps)
	}
}

func TestDefaultVersion(t *testing.T) {
	// Tests run as a development build.
	if v := DefaultVersion(); v == "" || v == "dev" {
		t.Errorf("DefaultVersion() = %q; a development build must use the latest tag", v)
	}
}

func TestYAMLHasEveryObject(t *testing.T) {
	m := generate(t, nil)
	data, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Count(string(data), "\n---\n")
	if want := len(m.CRDs) + len(m.Objects); docs != want {
		t.Errorf("got %d documents, want %d", docs, want)
	}
	first := strings.Index(string(data), "kind: ")
	if !strings.HasPrefix(string(data)[first:], "kind: Namespace") {
		t.Errorf("the namespace must come first")
	}
	for _, s := range []string{"creationTimestamp: null", "\nstatus:"} {
		if strings.Contains(string(data), s) {
			t.Errorf("output contains %q", s)
		}
	}
}
