package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HistoryMaxSize is how many snapshots History keeps.
const HistoryMaxSize = 5

// History is the record of recent reconciles, newest first. Reconciles that
// applied the same set of objects (the same digest) with the same outcome
// share one snapshot.
type History []Snapshot

// Snapshot summarises the reconciles that applied one set of objects with
// one outcome.
type Snapshot struct {
	// Digest identifies the set of applied objects, as "<algorithm>:<hex>".
	// +required
	Digest string `json:"digest"`

	// FirstReconciled is when this set of objects was first reconciled.
	// +required
	FirstReconciled metav1.Time `json:"firstReconciled"`

	// LastReconciled is when this set of objects was last reconciled.
	// +required
	LastReconciled metav1.Time `json:"lastReconciled"`

	// LastReconciledDuration is how long the last of these reconciles took.
	// +required
	LastReconciledDuration metav1.Duration `json:"lastReconciledDuration"`

	// LastReconciledStatus is the outcome of these reconciles, such as the
	// reason of the Ready condition.
	// +required
	LastReconciledStatus string `json:"lastReconciledStatus"`

	// TotalReconciliations counts the reconciles in this snapshot.
	// +required
	TotalReconciliations int64 `json:"totalReconciliations"`

	// Metadata holds details of the reconcile, such as the source revision.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Latest returns the newest snapshot, or nil when the history is empty.
func (h History) Latest() *Snapshot {
	if len(h) == 0 {
		return nil
	}
	return &h[0]
}

// Upsert records a reconcile that finished at "at" after taking "took". A
// snapshot with the same digest and status is updated and moved to the
// front; otherwise a new snapshot is added at the front. The history is then
// cut to HistoryMaxSize.
func (h *History) Upsert(digest string, at time.Time, took time.Duration, status string, metadata map[string]string) {
	s := Snapshot{
		Digest:          digest,
		FirstReconciled: metav1.NewTime(at),
	}
	rest := make(History, 0, len(*h)+1)
	for _, old := range *h {
		if old.Digest == digest && old.LastReconciledStatus == status {
			s = old
			continue
		}
		rest = append(rest, old)
	}
	s.LastReconciled = metav1.NewTime(at)
	s.LastReconciledDuration = metav1.Duration{Duration: took}
	s.LastReconciledStatus = status
	s.TotalReconciliations++
	s.Metadata = metadata
	*h = append(History{s}, rest...)
	if len(*h) > HistoryMaxSize {
		*h = (*h)[:HistoryMaxSize]
	}
}
