package v2

import "github.com/gotk-dev/gotk/api/meta"

// Values of spec.postRenderStrategy.
const (
	// PostRenderStrategyNoHooks passes only the templates to the
	// post-renderers, as Helm 3 did.
	PostRenderStrategyNoHooks = "nohooks"

	// PostRenderStrategyCombined passes templates and hooks together, as
	// Helm 4 does. The default.
	PostRenderStrategyCombined = "combined"

	// PostRenderStrategySeparate passes templates and hooks in two
	// separate runs.
	PostRenderStrategySeparate = "separate"
)

// Names of a wait strategy.
const (
	// WaitStrategyPoller reads readiness with kstatus. The default.
	WaitStrategyPoller = "poller"

	// WaitStrategyLegacy uses Helm 3's readiness checks.
	WaitStrategyLegacy = "legacy"
)

// WaitStrategy chooses how Helm waits for resources to be ready.
type WaitStrategy struct {
	// Name of the strategy: poller (kstatus, the default) or legacy (Helm
	// 3's checks).
	// +kubebuilder:validation:Enum=poller;legacy
	// +required
	Name string `json:"name"`
}

// DriftDetectionMode chooses what the controller does about differences
// between the release's manifest and the cluster.
type DriftDetectionMode string

const (
	// DriftDetectionEnabled detects differences and corrects them.
	DriftDetectionEnabled DriftDetectionMode = "enabled"

	// DriftDetectionWarn detects differences and reports them in an event
	// without correcting them.
	DriftDetectionWarn DriftDetectionMode = "warn"

	// DriftDetectionDisabled does not look for differences. The default.
	DriftDetectionDisabled DriftDetectionMode = "disabled"
)

const (
	// DriftDetectionMetadataKey, as a label or annotation set to
	// DriftDetectionDisabledValue on a resource of the release, leaves
	// that resource out of drift detection.
	DriftDetectionMetadataKey = "helm.toolkit.fluxcd.io/driftDetection"

	// DriftDetectionDisabledValue is the value of DriftDetectionMetadataKey
	// that disables drift detection.
	DriftDetectionDisabledValue = "disabled"
)

// DriftDetection configures how differences between the release's manifest
// and the cluster are found and handled.
type DriftDetection struct {
	// Mode is enabled (detect and correct), warn (detect and report) or
	// disabled (the default).
	// +kubebuilder:validation:Enum=enabled;warn;disabled
	// +optional
	Mode DriftDetectionMode `json:"mode,omitempty"`

	// Ignore lists fields to leave out of the comparison, such as a
	// replica count that an autoscaler owns.
	// +optional
	Ignore []meta.IgnoreRule `json:"ignore,omitempty"`
}

// GetMode returns Mode, or disabled when it is not set.
func (in DriftDetection) GetMode() DriftDetectionMode {
	if in.Mode == "" {
		return DriftDetectionDisabled
	}
	return in.Mode
}

// MustDetectChanges reports whether the mode looks for differences.
func (in DriftDetection) MustDetectChanges() bool {
	m := in.GetMode()
	return m == DriftDetectionEnabled || m == DriftDetectionWarn
}
