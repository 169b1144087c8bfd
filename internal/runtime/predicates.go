package runtime

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gotk-dev/gotk/api/meta"
)

// ReconcilePredicate passes the events a gotk object reconciles on: a new
// generation (a spec change), a new reconcile request annotation, and the
// object's first sight; status-only updates are dropped. A non-empty
// selector (--watch-label-selector) limits it to matching objects.
func ReconcilePredicate(selector string) (predicate.Predicate, error) {
	p := predicate.Or(predicate.GenerationChangedPredicate{}, RequestedPredicate{})
	if selector == "" {
		return p, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("--watch-label-selector %q: %w", selector, err)
	}
	return predicate.And(p, predicate.NewPredicateFuncs(func(o client.Object) bool {
		return sel.Matches(labels.Set(o.GetLabels()))
	})), nil
}

// RequestedPredicate passes updates that change the reconcile request
// annotation.
type RequestedPredicate struct{ predicate.Funcs }

// Update passes a changed requestedAt annotation.
func (RequestedPredicate) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	oldV, _ := meta.ReconcileAnnotationValue(e.ObjectOld.GetAnnotations())
	newV, ok := meta.ReconcileAnnotationValue(e.ObjectNew.GetAnnotations())
	return ok && newV != oldV
}

// artifactHolder is a source with an artifact.
type artifactHolder interface {
	GetArtifact() *meta.Artifact
}

// ArtifactChangedPredicate passes updates of sources whose artifact
// revision or digest changed: what consumers reconcile on.
type ArtifactChangedPredicate struct{ predicate.Funcs }

// Create passes sources that already have an artifact.
func (ArtifactChangedPredicate) Create(e event.CreateEvent) bool {
	s, ok := e.Object.(artifactHolder)
	return ok && s.GetArtifact() != nil
}

// Update passes a new or changed artifact.
func (ArtifactChangedPredicate) Update(e event.UpdateEvent) bool {
	oldS, ok1 := e.ObjectOld.(artifactHolder)
	newS, ok2 := e.ObjectNew.(artifactHolder)
	if !ok1 || !ok2 || newS.GetArtifact() == nil {
		return false
	}
	o, n := oldS.GetArtifact(), newS.GetArtifact()
	return o == nil || o.Revision != n.Revision || o.Digest != n.Digest
}

// Delete passes nothing: consumers notice a missing source on their own
// schedule.
func (ArtifactChangedPredicate) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (ArtifactChangedPredicate) Generic(event.GenericEvent) bool { return false }
