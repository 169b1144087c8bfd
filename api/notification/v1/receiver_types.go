package v1

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ReceiverKind is the kind name of Receiver.
const ReceiverKind = "Receiver"

// ReceiverWebhookPathPrefix starts every receiver's webhook path; the rest
// is the hex SHA-256 of token+name+namespace (see WebhookPath).
const ReceiverWebhookPathPrefix = "/hook/"

// DefaultReceiverInterval is how often a Receiver is reconciled with its
// Secret when spec.interval is not set.
const DefaultReceiverInterval = 10 * time.Minute

// Receiver types: the sender of the webhook, which decides how a request is
// authenticated and how its payload is read.
const (
	// GenericReceiver accepts any request to the secret path.
	GenericReceiver = "generic"
	// GenericHMACReceiver checks an X-Signature HMAC of the body, keyed
	// with the token.
	GenericHMACReceiver = "generic-hmac"
	// GenericOIDCReceiver authenticates the caller by an OIDC bearer token
	// checked against spec.oidcProviders, with no shared secret.
	GenericOIDCReceiver = "generic-oidc"
	// GitHubReceiver checks GitHub's payload signature and event header.
	GitHubReceiver = "github"
	// GitLabReceiver checks GitLab's X-Gitlab-Token and event header.
	GitLabReceiver = "gitlab"
	// BitbucketReceiver checks Bitbucket Server's payload signature.
	BitbucketReceiver = "bitbucket"
	// HarborReceiver checks Harbor's Authorization header.
	HarborReceiver = "harbor"
	// DockerHubReceiver accepts Docker Hub webhooks on the secret path.
	DockerHubReceiver = "dockerhub"
	// QuayReceiver accepts Quay webhooks on the secret path.
	QuayReceiver = "quay"
	// GCRReceiver checks a Google Pub/Sub push request's OIDC token.
	GCRReceiver = "gcr"
	// NexusReceiver checks Nexus's payload signature.
	NexusReceiver = "nexus"
	// ACRReceiver accepts Azure Container Registry webhooks.
	ACRReceiver = "acr"
	// CDEventsReceiver accepts CDEvents, filtered by event type.
	CDEventsReceiver = "cdevents"
)

// DefaultOIDCAudience is the audience a generic-oidc Receiver expects in
// the token when its provider sets none.
const DefaultOIDCAudience = "notification-controller"

// ReceiverSpec says which sender to accept webhooks from, how to check
// them, and which objects to reconcile when one arrives.
// +kubebuilder:validation:XValidation:rule="self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)",message="generic-oidc receivers must define at least one oidcProvider"
// +kubebuilder:validation:XValidation:rule="self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0",message="oidcProviders can only be set when type is generic-oidc"
// +kubebuilder:validation:XValidation:rule="self.type != 'generic-oidc' || !has(self.secretRef)",message="secretRef cannot be set when type is generic-oidc"
// +kubebuilder:validation:XValidation:rule="self.type == 'generic-oidc' || has(self.secretRef)",message="secretRef is required when type is not generic-oidc"
type ReceiverSpec struct {
	// Type of the webhook sender, such as github or harbor; it decides how
	// requests are authenticated and their payload parsed.
	// +kubebuilder:validation:Enum=generic;generic-hmac;generic-oidc;github;gitlab;bitbucket;harbor;dockerhub;quay;gcr;nexus;acr;cdevents
	// +required
	Type string `json:"type"`

	// Interval between checks of the referenced Secret, which keep
	// status.webhookPath current when the token changes. Defaults to 10m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default:="10m"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Events lists the sender's event types to act on, such as "push" for
	// GitHub or "Push Hook" for GitLab. Empty means every event.
	// +optional
	Events []string `json:"events,omitempty"`

	// Resources are the objects to reconcile when an accepted webhook
	// arrives. A name of "*" with matchLabels selects several objects.
	// +required
	Resources []ReceiverResource `json:"resources"`

	// ResourceFilter is a CEL expression that must return a bool; it is
	// evaluated per matched resource, with `res` (the object) and `req`
	// (the request body) and, for generic-oidc, `claims`. Resources for
	// which it returns false are not reconciled. An invalid expression
	// stalls the Receiver.
	// +optional
	ResourceFilter string `json:"resourceFilter,omitempty"`

	// SecretRef names a Secret in the same namespace whose "token" key
	// authenticates requests and seeds the webhook path. gcr receivers also
	// read "email" and "audience". Required unless type is generic-oidc,
	// which must not set it.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// OIDCProviders are the issuers trusted by a generic-oidc Receiver: the
	// one whose issuerURL equals the token's "iss" claim verifies it. Only
	// allowed, and then required, when type is generic-oidc.
	// +listType=map
	// +listMapKey=issuerURL
	// +optional
	OIDCProviders []OIDCProvider `json:"oidcProviders,omitempty"`

	// Suspend stops the Receiver from acting on webhooks until unset.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ReceiverResource names the objects a Receiver reconciles.
type ReceiverResource struct {
	// APIVersion of the object, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the object.
	// +kubebuilder:validation:Enum=Bucket;GitRepository;Kustomization;HelmRelease;HelmChart;HelmRepository;ImageRepository;ImagePolicy;ImageUpdateAutomation;OCIRepository;ArtifactGenerator;ExternalArtifact
	// +required
	Kind string `json:"kind"`

	// Name of the object, or "*" for every object of the kind that
	// matchLabels selects.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Namespace of the object; defaults to the Receiver's.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// MatchLabels selects objects by label (all must match); only used
	// when name is "*".
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// Filter is a CEL expression, like spec.resourceFilter but for this
	// entry only; an object is reconciled only when both return true.
	// +optional
	Filter string `json:"filter,omitempty"`
}

// OIDCProvider is an OIDC issuer whose tokens a generic-oidc Receiver
// accepts, and the checks a token's claims must pass.
type OIDCProvider struct {
	// IssuerURL is used for OIDC discovery and must equal the token's
	// "iss" claim.
	// +kubebuilder:validation:Pattern="^https?://"
	// +required
	IssuerURL string `json:"issuerURL"`

	// Audience the token's "aud" claim must hold. Defaults to
	// "notification-controller".
	// +optional
	Audience string `json:"audience,omitempty"`

	// Variables are named CEL expressions over `claims`, evaluated in order
	// and readable as `vars.<name>` by later variables and by validations.
	// +optional
	Variables []OIDCVariable `json:"variables,omitempty"`

	// Validations are CEL expressions over `claims` and `vars` that must
	// all return true for a request to be accepted. Constrain the caller's
	// identity here (such as GitHub's repository_owner): a valid signature
	// from a public issuer alone proves nothing about who called.
	// +kubebuilder:validation:MinItems=1
	// +required
	Validations []OIDCValidation `json:"validations"`
}

// GetAudience returns the audience the provider's tokens must carry.
func (in *OIDCProvider) GetAudience() string {
	if in.Audience != "" {
		return in.Audience
	}
	return DefaultOIDCAudience
}

// OIDCVariable is a named CEL expression a generic-oidc Receiver evaluates
// before its validations.
type OIDCVariable struct {
	// Name of the variable; a valid CEL identifier.
	// +required
	Name string `json:"name"`

	// Expression that computes the variable's value.
	// +required
	Expression string `json:"expression"`
}

// OIDCValidation is a CEL check on the claims of a generic-oidc request.
type OIDCValidation struct {
	// Expression that must return true for the request to be accepted.
	// +required
	Expression string `json:"expression"`

	// Message sent back to the caller when the expression returns false.
	// +required
	Message string `json:"message"`
}

// ReceiverStatus is what the controller last observed of a Receiver.
type ReceiverStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether the Receiver is ready to accept webhooks.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// WebhookPath is the path on the receiver server that this Receiver
	// answers: "/hook/" followed by the hex SHA-256 of
	// token+name+namespace.
	// +optional
	WebhookPath string `json:"webhookPath,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=all;fluxcd;fluxcd-notifications
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/substitute=disabled"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"

// Receiver is an incoming webhook: when an authenticated request arrives
// at its status.webhookPath, gotk reconciles the listed objects at once
// instead of waiting for their next interval.
type Receiver struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Receiver.
	// +optional
	Spec ReceiverSpec `json:"spec,omitempty"`

	// Status is the observed state of the Receiver.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ReceiverStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &Receiver{}

// GetConditions returns the status conditions.
func (in *Receiver) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *Receiver) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval, or DefaultReceiverInterval when
// it is not set.
func (in *Receiver) GetRequeueAfter() time.Duration {
	if in.Spec.Interval != nil {
		return in.Spec.Interval.Duration
	}
	return DefaultReceiverInterval
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *Receiver) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *Receiver) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *Receiver) IsSuspended() bool {
	return in.Spec.Suspend
}

// WebhookPath returns the path this Receiver answers on for the given
// token: ReceiverWebhookPathPrefix followed by the lower-case hex SHA-256
// of token+name+namespace, as Flux computes it, so existing webhook URLs
// keep working.
func (in *Receiver) WebhookPath(token string) string {
	return WebhookPath(token, in.GetName(), in.GetNamespace())
}

// WebhookPath returns "/hook/" + hex(sha256(token+name+namespace)), the
// webhook path of the Receiver name in namespace with the given token.
func WebhookPath(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return ReceiverWebhookPathPrefix + hex.EncodeToString(sum[:])
}

// +kubebuilder:object:root=true

// ReceiverList is a list of Receivers.
type ReceiverList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Receivers.
	Items []Receiver `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&Receiver{}, &ReceiverList{}))
}
