package release

import (
	"context"
	"fmt"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// ActionFieldManager is the server-side apply field manager of every Helm
// action gotk runs, Flux's helm-controller's: the same in the controller
// and in the CLI, whose diff dry-runs the release's objects as the
// controller's next upgrade would apply them.
const ActionFieldManager = "helm-controller"

func init() {
	// Helm otherwise names the field manager after the binary that runs
	// it (gotk-controller, gotk, a test binary).
	if kube.ManagedFieldsManager == "" {
		kube.ManagedFieldsManager = ActionFieldManager
	}
}

// Labels and annotations that Helm sets on every object of a release when
// it applies them; they are not in the release's manifest.
const (
	ManagedByLabel             = "app.kubernetes.io/managed-by"
	ManagedByHelm              = "Helm"
	ReleaseNameAnnotation      = "meta.helm.sh/release-name"
	ReleaseNamespaceAnnotation = "meta.helm.sh/release-namespace"
)

// OwnershipAnnotations returns the annotations Helm sets on the objects of
// the release name in namespace.
func OwnershipAnnotations(name, namespace string) map[string]string {
	return map[string]string{ReleaseNameAnnotation: name, ReleaseNamespaceAnnotation: namespace}
}

func (r *Runner) dryRunStrategy() action.DryRunStrategy {
	if r.dryRun {
		return action.DryRunServer
	}
	return action.DryRunNone
}

// Preview returns the release that the controller's next install or
// upgrade to ch with values would make, without changing anything: the
// same Install or Upgrade, with the options of the HelmRelease's spec and
// the runner's PostRenderer, in Helm's server-side dry-run, which reads
// the cluster (the capabilities, the lookup function, the objects the
// release would take over) and writes nothing, CRDs included. It upgrades a release that
// has a version in storage, and installs one that has none or was
// uninstalled. A release left pending by an action that never finished is
// refused: the controller unlocks it first.
func (r *Runner) Preview(ctx context.Context, hr *helmv2.HelmRelease, ch *chart.Chart, values map[string]any) (*rel.Release, error) {
	last, err := r.Last()
	if err != nil {
		return nil, fmt.Errorf("read release '%s' from storage: %w", r.name, err)
	}
	// A preview applies no CRD of the chart's crds/ directory, whatever
	// the spec's crds policies say.
	hr = hr.DeepCopy()
	if hr.Spec.Install == nil {
		hr.Spec.Install = &helmv2.Install{}
	}
	hr.Spec.Install.CRDs, hr.Spec.Install.SkipCRDs = helmv2.Skip, true
	if hr.Spec.Upgrade == nil {
		hr.Spec.Upgrade = &helmv2.Upgrade{}
	}
	hr.Spec.Upgrade.CRDs = helmv2.Skip
	r.dryRun = true
	defer func() { r.dryRun = false }()
	switch {
	case last == nil || last.Info.Status == common.StatusUninstalled:
		return r.Install(ctx, hr, ch, values, last != nil)
	case last.Info.Status.IsPending() || last.Info.Status == common.StatusUninstalling:
		return nil, fmt.Errorf("release %s/%s.v%d is %s: the controller unlocks it at its next reconcile; render again after that",
			last.Namespace, last.Name, last.Version, last.Info.Status)
	}
	return r.Upgrade(ctx, hr, ch, values)
}

// Current returns the version of the release whose objects are in the
// cluster, as Helm's next upgrade sees it: the newest deployed version,
// else the newest one; nil when there is none, or when it was
// uninstalled.
func (r *Runner) Current() (*rel.Release, error) {
	history, err := r.History()
	if err != nil {
		return nil, err
	}
	var newest, deployed *rel.Release
	for _, h := range history {
		if newest == nil || h.Version > newest.Version {
			newest = h
		}
		if h.Info.Status == common.StatusDeployed && (deployed == nil || h.Version > deployed.Version) {
			deployed = h
		}
	}
	if deployed != nil {
		return deployed, nil
	}
	if newest == nil || newest.Info.Status == common.StatusUninstalled {
		return nil, nil
	}
	return newest, nil
}
