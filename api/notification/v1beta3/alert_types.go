package v1beta3

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// AlertKind is the kind name of Alert.
const AlertKind = "Alert"

// Event severities an Alert filters on.
const (
	// EventSeverityInfo forwards every event, informational and errors.
	EventSeverityInfo = "info"
	// EventSeverityError forwards only error events.
	EventSeverityError = "error"
)

// AlertSpec says which events to forward to which Provider.
type AlertSpec struct {
	// ProviderRef names the Provider, in the same namespace, to send the
	// matching events to.
	// +required
	ProviderRef meta.LocalObjectReference `json:"providerRef"`

	// EventSeverity is the lowest severity forwarded: "info" forwards
	// everything, "error" only errors.
	// +kubebuilder:validation:Enum=info;error
	// +kubebuilder:default:=info
	// +optional
	EventSeverity string `json:"eventSeverity,omitempty"`

	// EventSources are the objects whose events this Alert forwards. A
	// name of "*" matches every object of the kind, narrowed by
	// matchLabels when given.
	// +required
	EventSources []CrossNamespaceObjectReference `json:"eventSources"`

	// InclusionList holds Go regular expressions; when set, an event is
	// forwarded only if its message matches one of them.
	// +optional
	InclusionList []string `json:"inclusionList,omitempty"`

	// EventMetadata is added to the metadata of every forwarded event.
	// Keys the event already has keep their original value.
	// +optional
	EventMetadata map[string]string `json:"eventMetadata,omitempty"`

	// ExclusionList holds Go regular expressions; an event whose message
	// matches one of them is dropped. It wins over inclusionList.
	// +optional
	ExclusionList []string `json:"exclusionList,omitempty"`

	// Summary is a short text added to every forwarded event.
	// Deprecated: set a "summary" key in eventMetadata instead.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Summary string `json:"summary,omitempty"`

	// Suspend stops this Alert from forwarding events until unset; events
	// that arrive meanwhile are dropped.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// CrossNamespaceObjectReference selects the objects an Alert listens to,
// by kind and name, in any namespace.
type CrossNamespaceObjectReference struct {
	// APIVersion of the objects, such as "kustomize.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the objects.
	// +kubebuilder:validation:Enum=Bucket;GitRepository;Kustomization;HelmRelease;HelmChart;HelmRepository;ImageRepository;ImagePolicy;ImageUpdateAutomation;OCIRepository;ArtifactGenerator;ExternalArtifact
	// +required
	Kind string `json:"kind"`

	// Name of the object, or "*" for every object of the kind.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Namespace of the objects; defaults to the Alert's.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// MatchLabels narrows a "*" name to the objects that carry all these
	// labels.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// AlertStatus is what the controller last observed of an Alert. Flux
// keeps no status for v1beta3 Alerts; gotk reports whether the Provider
// and the filters are usable.
type AlertStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether the Alert is forwarding events.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=all;fluxcd;fluxcd-notifications
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/substitute=disabled"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"

// Alert forwards the events that gotk's controllers emit about selected
// objects to a Provider, filtered by severity and message.
type Alert struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Alert.
	// +optional
	Spec AlertSpec `json:"spec,omitempty"`

	// Status is the observed state of the Alert.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status AlertStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &Alert{}

// GetConditions returns the status conditions.
func (in *Alert) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *Alert) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns 0: an Alert has no interval and is reconciled
// only when it or its Provider changes.
func (in *Alert) GetRequeueAfter() time.Duration {
	return 0
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *Alert) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *Alert) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *Alert) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetEventSeverity returns spec.eventSeverity, or "info" when unset.
func (in *Alert) GetEventSeverity() string {
	if in.Spec.EventSeverity == "" {
		return EventSeverityInfo
	}
	return in.Spec.EventSeverity
}

// +kubebuilder:object:root=true

// AlertList is a list of Alerts.
type AlertList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Alerts.
	Items []Alert `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&Alert{}, &AlertList{}))
}
