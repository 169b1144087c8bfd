package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	rel "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// HelmManagedSelector is the label selector of the shared health
// watches: Helm labels every object of a release with it.
const HelmManagedSelector = "app.kubernetes.io/managed-by=Helm"

// waitSummaryLimit is how many objects the message of a wait names.
const waitSummaryLimit = 5

// healthWait is the outcome of a reconcile whose release is applied and
// whose objects are not ready yet: no failure, Ready=Unknown, and the
// HelmRelease is reconciled again when one of them changes or the
// timeout runs out. No worker is held meanwhile.
type healthWait struct{ msg string }

func (e *healthWait) Error() string { return e.msg }

func isHealthWait(err error) bool {
	var w *healthWait
	return errors.As(err, &w)
}

// sharedWait reports whether the objects of the release are waited for
// by the shared health watches, after a Helm action that waited for its
// hooks only: they see the controller's own cluster, so a release on a
// remote cluster (spec.kubeConfig) is waited for by Helm itself.
func (r *Reconciler) sharedWait(obj *helmv2.HelmRelease, act helmv2.ReleaseAction) bool {
	if r.Health == nil || obj.Spec.KubeConfig != nil {
		return false
	}
	if act == helmv2.ReleaseActionInstall {
		return !obj.GetInstall().DisableWait
	}
	return !obj.GetUpgrade().DisableWait
}

// waitToken names the release version a wait is for.
func waitToken(h *rel.Release) string {
	return fmt.Sprintf("%s/%s.v%d", h.Namespace, h.Name, h.Version)
}

// startWait registers the wait for the objects of release h.
func (r *Reconciler) startWait(obj *helmv2.HelmRelease, h *rel.Release, started time.Time) error {
	refs, err := manifestRefs(h, r.Mapper)
	if err != nil {
		return err
	}
	targets := make([]health.Target, len(refs))
	for i, ref := range refs {
		targets[i] = health.Target{Ref: ref}
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	return r.Health.Start(key, health.Spec{Targets: targets, Checks: obj.Spec.HealthCheckExprs, Token: waitToken(h), Started: started})
}

// waiting reports whether the newest release h is applied and its
// objects waited for: a wait in memory for it, or, after a restart, the
// Released condition that says so.
func (r *Reconciler) waiting(obj *helmv2.HelmRelease, h *rel.Release) bool {
	if r.Health == nil || h == nil {
		return false
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	if token, ok := r.Health.Token(key); ok {
		return token == waitToken(h)
	}
	c := runtime.Get(obj, helmv2.ReleasedCondition)
	return c != nil && c.Status == metav1.ConditionUnknown && c.Reason == meta.ProgressingReason &&
		strings.Contains(c.Message, waitToken(h)+" ")
}

// checkWait reads the health of the objects of h. It returns a
// healthWait while they are not all ready; the failure of the release
// (recorded in storage as failed, counted against the retries) when one
// failed or the timeout passed; nil once all are ready.
func (r *Reconciler) checkWait(s *scope, h *rel.Release) error {
	obj := s.obj
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	act := obj.Status.LastAttemptedReleaseAction
	timeout := timeoutOf(obj)
	if _, ok := r.Health.Token(key); !ok {
		// A restarted controller: the wait began when Released said so.
		started := time.Now()
		if c := runtime.Get(obj, helmv2.ReleasedCondition); c != nil {
			started = c.LastTransitionTime.Time
		}
		if err := r.startWait(obj, h, started); err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.healthCheckExprs: %s", err)
		}
	}
	res, _ := r.Health.Check(key)
	left := timeout - time.Since(res.Started)
	var herr *ssa.HealthError
	switch {
	case len(res.Failed) > 0:
		herr = &ssa.HealthError{Objects: res.Failed, Failed: true}
	case res.Healthy():
		r.Health.Stop(key)
		reason, verb := helmv2.UpgradeSucceededReason, "upgrade"
		if act == helmv2.ReleaseActionInstall {
			reason, verb = helmv2.InstallSucceededReason, "install"
		}
		msg := fmt.Sprintf("Helm %s succeeded for release %s with chart %s", verb, fullName(h), chartOf(h))
		runtime.MarkTrue(obj, helmv2.ReleasedCondition, reason, "%s", msg)
		r.eventfMD(obj, map[string]string{"revision": chartVersion(h)}, runtime.SeverityInfo, reason, "%s", msg)
		return nil
	case left <= 0:
		herr = &ssa.HealthError{Objects: res.Pending, Err: context.DeadlineExceeded}
	}
	if herr != nil {
		r.Health.Stop(key)
		return r.failWait(s, h, herr)
	}
	msg := fmt.Sprintf("Helm %s of release %s with chart %s: waiting for %s", act, waitToken(h), chartOf(h),
		health.Summary(res.Pending, waitSummaryLimit))
	runtime.MarkUnknown(obj, helmv2.ReleasedCondition, meta.ProgressingReason, "%s", msg)
	return runtime.Waiting(meta.ProgressingReason, left, &healthWait{msg: msg})
}

// failWait records a release whose objects did not become ready: failed
// in storage, as Helm's own wait would have left it, and counted.
func (r *Reconciler) failWait(s *scope, h *rel.Release, herr error) error {
	obj := s.obj
	act := obj.Status.LastAttemptedReleaseAction
	reason := helmv2.UpgradeFailedReason
	rem := obj.GetUpgrade().GetRemediation()
	if act == helmv2.ReleaseActionInstall {
		reason = helmv2.InstallFailedReason
		rem = obj.GetInstall().GetRemediation()
	}
	msg := fmt.Sprintf("Helm %s failed for release %s with chart %s: %s", act, fullName(h), chartOf(h), herr)
	if err := s.runner.MarkFailed(h, msg); err != nil {
		return runtime.Failed(reason, fmt.Errorf("record failed release %s: %w", fullName(h), err))
	}
	rem.IncrementFailureCount(obj)
	obj.Status.Failures++
	runtime.MarkFalse(obj, helmv2.ReleasedCondition, reason, "%s", msg)
	r.eventfMD(obj, map[string]string{"revision": chartVersion(h)}, runtime.SeverityError, reason, "%s", msg)
	_ = r.syncHistory(s)
	return runtime.Failed(reason, errors.New(msg+fmt.Sprintf(" (timeout %s)", timeoutOf(obj))))
}

// timeoutOf is the timeout of the last release action.
func timeoutOf(obj *helmv2.HelmRelease) time.Duration {
	if obj.Status.LastAttemptedReleaseAction == helmv2.ReleaseActionInstall {
		return obj.GetInstall().GetTimeout(obj.GetTimeout()).Duration
	}
	return obj.GetUpgrade().GetTimeout(obj.GetTimeout()).Duration
}

// manifestRefs lists the objects of the release's manifest; namespaced
// ones without a namespace are in the release's.
func manifestRefs(h *rel.Release, mapper apimeta.RESTMapper) ([]ssa.ObjectRef, error) {
	var refs []ssa.ObjectRef
	for _, doc := range releaseutil.SplitManifests(h.Manifest) {
		var head struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Metadata   metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil || head.Kind == "" {
			continue
		}
		gv, err := schema.ParseGroupVersion(head.APIVersion)
		if err != nil {
			continue
		}
		ref := ssa.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: head.Kind, Name: head.Metadata.Name, Namespace: head.Metadata.Namespace}
		if mapping, err := mapper.RESTMapping(gv.WithKind(head.Kind).GroupKind(), gv.Version); err == nil {
			if mapping.Scope.Name() == apimeta.RESTScopeNameNamespace {
				if ref.Namespace == "" {
					ref.Namespace = h.Namespace
				}
			} else {
				ref.Namespace = ""
			}
		} else if ref.Namespace == "" {
			ref.Namespace = h.Namespace
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
