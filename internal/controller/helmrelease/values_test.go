package helmrelease

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// valuesFrom are merged in order, a targetPath sets one value, a missing
// optional reference is skipped, spec.values win; a change to the data of
// a referenced Secret that carries no watch label upgrades the release
// without any reconcile request or interval.
func TestValuesFromSecretChangeUpgrades(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "base", Namespace: ns},
		Data: map[string]string{"values.yaml": "greeting: from-configmap\nextra: base\nnested:\n  a: 1\n  b: 1\n"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns},
		Data: map[string][]byte{"custom.yaml": []byte("greeting: from-secret\nnested:\n  b: 2\n"), "token": []byte("s3cret,with=commas")}}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ValuesFrom = []helmv2.ValuesReference{
			{Kind: "ConfigMap", Name: "base"},
			{Kind: "Secret", Name: "prod", ValuesKey: "custom.yaml"},
			{Kind: "Secret", Name: "prod", ValuesKey: "token", TargetPath: "auth.token"},
			{Kind: "ConfigMap", Name: "absent", Optional: true},
		}
		o.Spec.Values = values(t, map[string]any{"extra": "inline"})
	})
	obj := readyWith(t, key, "1.0.0")
	greetingIs(t, ns, "web", "from-secret")
	cfg := configMap(t, ns, "web-extra")
	want := map[string]string{"extra": "inline", "nested": "a=1,b=2", "token": "s3cret,with=commas"}
	for k, v := range want {
		if cfg.Data[k] != v {
			t.Errorf("rendered %s = %q, want %q (all: %v)", k, cfg.Data[k], v, cfg.Data)
		}
	}
	digest := obj.Status.LastAttemptedConfigDigest

	// No label on the Secret, no reconcile request: its change alone.
	sec.Data["custom.yaml"] = []byte("greeting: rotated\n")
	if err := env.Client.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	greetingIs(t, ns, "web", "rotated")
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.History.Latest().Version == 2
	})
	if obj.Status.LastAttemptedConfigDigest == digest || obj.Status.History.Latest().Version != 2 {
		t.Errorf("after the Secret changed: digest %s (was %s), version %d", obj.Status.LastAttemptedConfigDigest, digest,
			obj.Status.History.Latest().Version)
	}
}

// Values that are not YAML, a missing values Secret and a template error
// fail with a message naming the object, key or template, and leave the
// deployed release as it was.
func TestBadValuesAndTemplatesLeaveReleaseUntouched(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vals", Namespace: ns},
		Data: map[string][]byte{"values.yaml": []byte("greeting: good\n")}}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "Secret", Name: "vals"}}
	})
	readyWith(t, key, "1.0.0")

	sec.Data["values.yaml"] = []byte("greeting: [unclosed\n")
	if err := env.Client.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	obj := notReadyWith(t, key, meta.InvalidSpecReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "spec.valuesFrom[0]: Secret '"+ns+"/vals'") ||
		!strings.Contains(msg, `key "values.yaml" is not a YAML map of values`) {
		t.Errorf("message %q", msg)
	}
	assertDeployed(t, obj, ns, 1, "good")

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "Secret", Name: "missing"}}
	})
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && o.Status.ObservedGeneration == o.Generation &&
			strings.Contains(runtime.Message(o, meta.ReadyCondition), "'"+ns+"/missing'")
	})
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), runtime.Message(obj, meta.ReadyCondition))
	assertDeployed(t, obj, ns, 1, "good")

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.ValuesFrom = nil
		o.Spec.Values = values(t, map[string]any{"broken": true})
	})
	obj = notReadyWith(t, key, helmv2.UpgradeFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "templates/broken.yaml") ||
		!strings.Contains(msg, "values.broken is set") {
		t.Errorf("message %q", msg)
	}
	assertDeployed(t, obj, ns, 1, "good")
}

// assertDeployed checks that version is still the deployed release and
// that its ConfigMap still says greeting.
func assertDeployed(t *testing.T, obj *helmv2.HelmRelease, ns string, version int, greeting string) {
	t.Helper()
	secrets := releaseSecrets(t, ns, obj.GetReleaseName())
	deployed := 0
	for _, s := range secrets {
		if s.Labels["status"] == "deployed" {
			deployed++
			if s.Labels["version"] != "1" {
				t.Errorf("deployed release is version %s, want %d", s.Labels["version"], version)
			}
		}
	}
	if deployed != 1 {
		t.Errorf("%d deployed releases in storage, want 1", deployed)
	}
	if cm := configMap(t, ns, obj.GetReleaseName()); cm == nil || cm.Data["greeting"] != greeting {
		t.Errorf("the release's ConfigMap changed: %v", cm)
	}
}
