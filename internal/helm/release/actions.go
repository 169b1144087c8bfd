package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// Runner runs the Helm actions of one HelmRelease's release, all through
// one Getter: one identity, one cluster.
type Runner struct {
	cfg       *action.Configuration
	name      string
	namespace string
	// dryRun renders installs and upgrades without changing anything
	// (see Preview).
	dryRun bool
	// HooksOnly makes install and upgrade wait for their hooks only: the
	// caller waits for the objects of the release itself.
	HooksOnly bool
	// capabilities are the shared ones of the getter, if any: the CRDs
	// of a chart make them stale.
	capabilities *Capabilities
	// Render is the post-rendering of installs and upgrades: the spec's
	// post-renderers and commonMetadata, recorded on the release as
	// RenderLabel.
	Render PostRender
}

// renderLabels are the custom labels an install or upgrade records: the
// digest of the post-rendering, or its removal ("null" to Helm) when
// there is none.
func (r *Runner) renderLabels(upgrade bool) map[string]string {
	d := r.Render.RenderDigest()
	switch {
	case d != "":
		return map[string]string{RenderLabel: d}
	case upgrade:
		return map[string]string{RenderLabel: "null"}
	}
	return nil
}

// postRenderStrategy is spec.postRenderStrategy as Helm names it.
func postRenderStrategy(hr *helmv2.HelmRelease) action.PostRenderStrategy {
	return action.PostRenderStrategy(hr.GetPostRenderStrategy())
}

// NewRunner returns a runner for release name, installed in the getter's
// namespace and stored in storageNamespace.
func NewRunner(g *Getter, storageNamespace, name string, log *slog.Logger) (*Runner, error) {
	cfg, err := newConfiguration(g, storageNamespace, log)
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, name: name, namespace: g.namespace, capabilities: g.capabilities}, nil
}

// Last returns the newest version of the release in storage, or nil when
// there is none.
func (r *Runner) Last() (*rel.Release, error) {
	v, err := r.cfg.Releases.Last(r.name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return toV1(v)
}

// History returns every version of the release in storage.
func (r *Runner) History() ([]*rel.Release, error) {
	list, err := r.cfg.Releases.History(r.name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]*rel.Release, 0, len(list))
	for _, v := range list {
		if r, err := toV1(v); err == nil && r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Newest returns the version of history with the highest number, as
// Last reads it from storage; nil when history is empty.
func Newest(history []*rel.Release) *rel.Release {
	var out *rel.Release
	for _, h := range history {
		if out == nil || h.Version > out.Version {
			out = h
		}
	}
	return out
}

func toV1(v ri.Releaser) (*rel.Release, error) {
	switch r := v.(type) {
	case *rel.Release:
		return r, nil
	case rel.Release:
		return &r, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported release type %T", v)
}

// waitStrategy is Helm's: watch the objects until ready, or only the
// hooks when the wait is disabled.
func waitStrategy(disable bool) kube.WaitStrategy {
	if disable {
		return kube.HookOnlyStrategy
	}
	return kube.StatusWatcherStrategy
}

// Install installs ch with values as a new release; replace reuses the
// name of a release that was uninstalled with its history kept.
func (r *Runner) Install(ctx context.Context, hr *helmv2.HelmRelease, ch *chart.Chart, values map[string]any, replace bool) (*rel.Release, error) {
	spec := hr.GetInstall()
	a := action.NewInstall(r.cfg)
	a.DryRunStrategy = r.dryRunStrategy()
	a.ReleaseName = r.name
	a.Namespace = r.namespace
	a.Timeout = spec.GetTimeout(hr.GetTimeout()).Duration
	a.WaitStrategy = waitStrategy(spec.DisableWait || r.HooksOnly)
	a.WaitForJobs = !spec.DisableWaitForJobs
	a.DisableHooks = spec.DisableHooks
	a.DisableOpenAPIValidation = spec.DisableOpenAPIValidation
	a.SkipSchemaValidation = spec.DisableSchemaValidation
	a.Replace = spec.Replace || replace
	a.CreateNamespace = spec.CreateNamespace
	// The CRDs are applied here, by the policy, before the install.
	a.SkipCRDs = true
	a.TakeOwnership = !spec.DisableTakeOwnership
	if spec.ServerSideApply != nil {
		a.ServerSideApply = *spec.ServerSideApply
	}
	if r.Render.Renderer != nil {
		a.PostRenderer = r.Render.Renderer
		a.PostRenderStrategy = postRenderStrategy(hr)
	}
	a.Labels = r.renderLabels(false)
	a.Description = "installed by gotk"
	if err := r.applyCRDs(installCRDsPolicy(spec), ch, "install"); err != nil {
		return nil, err
	}
	r.kube().reset()
	v, err := a.RunWithContext(ctx, ch, values)
	out, _ := toV1(v)
	return out, err
}

// kube is the runner's Kubernetes client.
func (r *Runner) kube() *recordingClient {
	return r.cfg.KubeClient.(*recordingClient)
}

// Applied returns the object k as the API server answered the last install or
// upgrade of the runner that wrote it, or nil when that action did not.
// An action that failed may have written some objects and not others;
// a caller only trusts the answers of an action that succeeded.
func (r *Runner) Applied(k AppliedKey) *unstructured.Unstructured {
	return r.kube().lookup(k)
}

// Upgrade upgrades the release to ch with values.
func (r *Runner) Upgrade(ctx context.Context, hr *helmv2.HelmRelease, ch *chart.Chart, values map[string]any) (*rel.Release, error) {
	spec := hr.GetUpgrade()
	a := action.NewUpgrade(r.cfg)
	a.DryRunStrategy = r.dryRunStrategy()
	a.Namespace = r.namespace
	a.Timeout = spec.GetTimeout(hr.GetTimeout()).Duration
	a.WaitStrategy = waitStrategy(spec.DisableWait || r.HooksOnly)
	a.WaitForJobs = !spec.DisableWaitForJobs
	a.DisableHooks = spec.DisableHooks
	a.DisableOpenAPIValidation = spec.DisableOpenAPIValidation
	a.SkipSchemaValidation = spec.DisableSchemaValidation
	a.ForceReplace = spec.Force
	a.ReuseValues = spec.PreserveValues
	a.ResetValues = !spec.PreserveValues
	a.CleanupOnFail = spec.CleanupOnFail
	// Helm upgrades never apply CRDs; the policy does, here, before.
	a.SkipCRDs = true
	a.TakeOwnership = !spec.DisableTakeOwnership
	a.MaxHistory = hr.GetMaxHistory()
	switch spec.GetServerSideApply() {
	case helmv2.ServerSideApplyEnabled:
		a.ServerSideApply = "true"
	case helmv2.ServerSideApplyDisabled:
		a.ServerSideApply = "false"
	default:
		a.ServerSideApply = "auto"
	}
	if r.Render.Renderer != nil {
		a.PostRenderer = r.Render.Renderer
		a.PostRenderStrategy = postRenderStrategy(hr)
	}
	a.Labels = r.renderLabels(true)
	a.Description = "upgraded by gotk"
	if err := r.applyCRDs(upgradeCRDsPolicy(spec), ch, "upgrade"); err != nil {
		return nil, err
	}
	r.kube().reset()
	v, err := a.RunWithContext(ctx, r.name, ch, values)
	out, _ := toV1(v)
	return out, err
}

// Rollback rolls the release back to version (0: the previous one).
func (r *Runner) Rollback(hr *helmv2.HelmRelease, version int) error {
	spec := hr.GetRollback()
	a := action.NewRollback(r.cfg)
	a.Version = version
	a.Timeout = spec.GetTimeout(hr.GetTimeout()).Duration
	a.WaitStrategy = waitStrategy(spec.DisableWait)
	a.WaitForJobs = !spec.DisableWaitForJobs
	a.DisableHooks = spec.DisableHooks
	a.ForceReplace = spec.Force
	a.CleanupOnFail = spec.CleanupOnFail
	a.MaxHistory = hr.GetMaxHistory()
	switch spec.ServerSideApply {
	case helmv2.ServerSideApplyEnabled:
		a.ServerSideApply = "true"
	case helmv2.ServerSideApplyDisabled:
		a.ServerSideApply = "false"
	default:
		a.ServerSideApply = "auto"
	}
	a.Description = "rolled back by gotk"
	return a.Run(r.name)
}

// Uninstall removes the release and its objects; with keepHistory from
// the spec the storage keeps it as uninstalled.
func (r *Runner) Uninstall(hr *helmv2.HelmRelease) error {
	spec := hr.GetUninstall()
	a := action.NewUninstall(r.cfg)
	a.Timeout = spec.GetTimeout(hr.GetTimeout()).Duration
	a.WaitStrategy = waitStrategy(spec.DisableWait)
	a.DisableHooks = spec.DisableHooks
	a.KeepHistory = spec.KeepHistory
	a.DeletionPropagation = spec.GetDeletionPropagation()
	a.IgnoreNotFound = true
	a.Description = "uninstalled by gotk"
	_, err := a.Run(r.name)
	return err
}

// Test runs the release's test hooks, as filtered by spec.test.filters,
// and returns the release with their outcome.
func (r *Runner) Test(hr *helmv2.HelmRelease) (*rel.Release, error) {
	spec := hr.GetTest()
	a := action.NewReleaseTesting(r.cfg)
	a.Namespace = r.namespace
	a.Timeout = spec.GetTimeout(hr.GetTimeout()).Duration
	a.Filters = map[string][]string{}
	for _, f := range spec.GetFilters() {
		key := action.IncludeNameFilter
		if f.Exclude {
			key = action.ExcludeNameFilter
		}
		a.Filters[key] = append(a.Filters[key], f.Name)
	}
	v, shutdown, err := a.Run(r.name)
	if shutdown != nil {
		_ = shutdown()
	}
	out, _ := toV1(v)
	return out, err
}

// Unlock marks a release left pending (install, upgrade or rollback in
// progress when a controller stopped) as failed, so that Helm accepts the
// next action instead of answering "another operation is in progress".
func (r *Runner) Unlock(last *rel.Release) error {
	if last == nil || !last.Info.Status.IsPending() {
		return nil
	}
	was := last.Info.Status
	last.SetStatus(common.StatusFailed, fmt.Sprintf("release unlocked by gotk from stale state %q", was))
	last.Info.LastDeployed = time.Now()
	return r.cfg.Releases.Update(last)
}

// MarkFailed records that the release failed for a reason Helm did not
// see, such as a health wait that ran out.
func (r *Runner) MarkFailed(last *rel.Release, reason string) error {
	last.SetStatus(common.StatusFailed, reason)
	return r.cfg.Releases.Update(last)
}
