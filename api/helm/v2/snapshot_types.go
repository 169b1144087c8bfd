package v2

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Helm release states and test phases that the snapshot helpers look at.
const (
	snapshotStatusDeployed   = "deployed"
	snapshotStatusSuperseded = "superseded"
	testPhaseFailed          = "Failed"
)

// Snapshots is the release history that the controller keeps in status,
// newest first once sorted.
type Snapshots []*Snapshot

// Len returns the number of snapshots.
func (in Snapshots) Len() int {
	return len(in)
}

// SortByVersion sorts the snapshots by release version, newest first.
func (in Snapshots) SortByVersion() {
	sort.SliceStable(in, func(i, j int) bool {
		return in[i].Version > in[j].Version
	})
}

// Latest returns the snapshot of the newest release, or nil.
func (in Snapshots) Latest() *Snapshot {
	if len(in) == 0 {
		return nil
	}
	in.SortByVersion()
	return in[0]
}

// Previous returns the newest release before Latest that was deployed or
// superseded, skipping releases whose tests failed unless ignoreTests is
// true: the release a rollback goes back to. It returns nil when there is
// none.
func (in Snapshots) Previous(ignoreTests bool) *Snapshot {
	if i := in.previousIndex(ignoreTests); i > 0 {
		return in[i]
	}
	return nil
}

// Truncate drops the snapshots older than Previous. When there is no such
// release, it keeps the newest five.
func (in *Snapshots) Truncate(ignoreTests bool) {
	if i := in.previousIndex(ignoreTests); i > 0 {
		*in = (*in)[:i+1]
		return
	}
	if len(*in) > defaultMaxHistory {
		*in = (*in)[:defaultMaxHistory]
	}
}

// previousIndex sorts the snapshots and returns the index of Previous, or
// -1.
func (in Snapshots) previousIndex(ignoreTests bool) int {
	if len(in) < 2 {
		return -1
	}
	in.SortByVersion()
	for i := 1; i < len(in); i++ {
		s := in[i]
		if s.Status != snapshotStatusDeployed && s.Status != snapshotStatusSuperseded {
			continue
		}
		if ignoreTests || !s.HasTestInPhase(testPhaseFailed) {
			return i
		}
	}
	return -1
}

// Snapshot records the state of one Helm release as the controller last
// saw it in Helm's storage.
type Snapshot struct {
	// APIVersion of the snapshot format, which changes when the way Digest
	// is computed changes.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Digest of the release object in storage, as "<algorithm>:<hex>".
	// +required
	Digest string `json:"digest"`

	// Name of the release.
	// +required
	Name string `json:"name"`

	// Namespace the release is installed in.
	// +required
	Namespace string `json:"namespace"`

	// Version of the release, counting up from 1 with each install,
	// upgrade or rollback.
	// +required
	Version int `json:"version"`

	// Status of the release in Helm's terms, such as "deployed",
	// "superseded" or "failed".
	// +required
	Status string `json:"status"`

	// Action that produced this release, such as "install" or "upgrade".
	// +optional
	Action string `json:"action,omitempty"`

	// ChartName is the name of the released chart.
	// +required
	ChartName string `json:"chartName"`

	// ChartVersion is the version of the released chart.
	// +required
	ChartVersion string `json:"chartVersion"`

	// AppVersion is the appVersion of the released chart.
	// +optional
	AppVersion string `json:"appVersion,omitempty"`

	// ConfigDigest is the digest of the release's values, as
	// "<algorithm>:<hex>".
	// +required
	ConfigDigest string `json:"configDigest"`

	// FirstDeployed is when the first version of the release was deployed.
	// +required
	FirstDeployed metav1.Time `json:"firstDeployed"`

	// LastDeployed is when this version of the release was deployed.
	// +required
	LastDeployed metav1.Time `json:"lastDeployed"`

	// Deleted is when the release was uninstalled, if it was.
	// +optional
	Deleted metav1.Time `json:"deleted,omitempty"`

	// TestHooks are the release's test hooks as the controller saw them
	// run, by name. Nil means the tests have not run; an empty map means
	// the chart has no tests.
	// +optional
	TestHooks *map[string]*TestHookStatus `json:"testHooks,omitempty"`

	// OCIDigest is the digest of the OCI artifact the chart came from.
	// +optional
	OCIDigest string `json:"ociDigest,omitempty"`
}

// FullReleaseName returns "<namespace>/<name>.v<version>".
func (in *Snapshot) FullReleaseName() string {
	if in == nil {
		return ""
	}
	return fmt.Sprintf("%s/%s.v%d", in.Namespace, in.Name, in.Version)
}

// VersionedChartName returns "<chart name>@<chart version>".
func (in *Snapshot) VersionedChartName() string {
	if in == nil {
		return ""
	}
	return in.ChartName + "@" + in.ChartVersion
}

// HasBeenTested reports whether the tests ran, including the case of a
// chart without tests.
func (in *Snapshot) HasBeenTested() bool {
	return in != nil && in.TestHooks != nil
}

// GetTestHooks returns the test hooks, or nil.
func (in *Snapshot) GetTestHooks() map[string]*TestHookStatus {
	if in == nil || in.TestHooks == nil {
		return nil
	}
	return *in.TestHooks
}

// SetTestHooks records the test hooks; a nil map is ignored.
func (in *Snapshot) SetTestHooks(hooks map[string]*TestHookStatus) {
	if in == nil || hooks == nil {
		return
	}
	in.TestHooks = &hooks
}

// HasTestInPhase reports whether any test hook is in the given phase.
func (in *Snapshot) HasTestInPhase(phase string) bool {
	for _, h := range in.GetTestHooks() {
		if h != nil && h.Phase == phase {
			return true
		}
	}
	return false
}

// Targets reports whether the snapshot is of the release with the given
// name, namespace and version.
func (in *Snapshot) Targets(name, namespace string, version int) bool {
	return in != nil && in.Name == name && in.Namespace == namespace && in.Version == version
}

// TestHookStatus is the state of one Helm test hook as the controller saw
// it run.
type TestHookStatus struct {
	// LastStarted is when the test last started.
	// +optional
	LastStarted metav1.Time `json:"lastStarted,omitempty"`

	// LastCompleted is when the test last completed.
	// +optional
	LastCompleted metav1.Time `json:"lastCompleted,omitempty"`

	// Phase of the test, such as "Succeeded" or "Failed".
	// +optional
	Phase string `json:"phase,omitempty"`
}
