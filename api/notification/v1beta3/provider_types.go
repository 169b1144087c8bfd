package v1beta3

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ProviderKind is the kind name of Provider.
const ProviderKind = "Provider"

// DefaultProviderTimeout bounds one delivery to a provider when
// spec.timeout is not set.
const DefaultProviderTimeout = 15 * time.Second

// Provider types: the service a Provider delivers to. Chat and incident
// services receive a message per event; Git hosts (github, gitlab, gitea,
// bitbucket, bitbucketserver, azuredevops) receive a commit status for the
// revision in the event; the *comment types comment on the pull or merge
// request that the revision belongs to.
const (
	SlackProvider                     = "slack"
	DiscordProvider                   = "discord"
	MSTeamsProvider                   = "msteams"
	RocketProvider                    = "rocket"
	GenericProvider                   = "generic"
	GenericHMACProvider               = "generic-hmac"
	GitHubProvider                    = "github"
	GitLabProvider                    = "gitlab"
	GiteaProvider                     = "gitea"
	GiteaPullRequestCommentProvider   = "giteapullrequestcomment"
	BitbucketServerProvider           = "bitbucketserver"
	BitbucketProvider                 = "bitbucket"
	AzureDevOpsProvider               = "azuredevops"
	GoogleChatProvider                = "googlechat"
	GooglePubSubProvider              = "googlepubsub"
	WebexProvider                     = "webex"
	SentryProvider                    = "sentry"
	AzureEventHubProvider             = "azureeventhub"
	TelegramProvider                  = "telegram"
	LarkProvider                      = "lark"
	MatrixProvider                    = "matrix"
	OpsgenieProvider                  = "opsgenie"
	AlertManagerProvider              = "alertmanager"
	GrafanaProvider                   = "grafana"
	GitHubDispatchProvider            = "githubdispatch"
	GitHubPullRequestCommentProvider  = "githubpullrequestcomment"
	GitLabMergeRequestCommentProvider = "gitlabmergerequestcomment"
	PagerDutyProvider                 = "pagerduty"
	DataDogProvider                   = "datadog"
	NATSProvider                      = "nats"
	ZulipProvider                     = "zulip"
	OTELProvider                      = "otel"
	ZoomProvider                      = "zoom"
	IncidentIOProvider                = "incident.io"
)

// ProviderSpec says where and how a Provider delivers notifications.
// +kubebuilder:validation:XValidation:rule="self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)",message="spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types"
type ProviderSpec struct {
	// Type of the service to deliver to, such as slack, msteams, generic
	// (a JSON POST) or github (commit statuses).
	// +kubebuilder:validation:Enum=slack;discord;msteams;rocket;generic;generic-hmac;github;gitlab;gitea;giteapullrequestcomment;bitbucketserver;bitbucket;azuredevops;googlechat;googlepubsub;webex;sentry;azureeventhub;telegram;lark;matrix;opsgenie;alertmanager;grafana;githubdispatch;githubpullrequestcomment;gitlabmergerequestcomment;pagerduty;datadog;nats;zulip;otel;zoom;incident.io
	// +required
	Type string `json:"type"`

	// Interval is kept so that v1beta2 manifests still apply; it has no
	// effect on delivery.
	// Deprecated: Providers are not reconciled on a schedule.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Channel to post to, for the types that have channels (such as a
	// Slack channel or a Telegram chat ID).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Channel string `json:"channel,omitempty"`

	// Username to post as, where the service allows choosing one.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Username string `json:"username,omitempty"`

	// Address to deliver to; its meaning depends on the type: an HTTP(S)
	// URL for webhooks and generic, a repository URL for Git hosts, a topic
	// or project for others. The "address" key of secretRef overrides it.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Address string `json:"address,omitempty"`

	// CommitStatusExpr is a CEL expression over `event`, `provider` and
	// `alert` that returns the commit status name (context) to set; only
	// for github, gitlab, gitea, bitbucketserver, bitbucket and azuredevops.
	// +optional
	CommitStatusExpr string `json:"commitStatusExpr,omitempty"`

	// Timeout for one delivery. Defaults to 15s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Proxy is the HTTP(S) URL of a proxy to deliver through.
	// Deprecated: use proxySecretRef, which keeps credentials out of the spec.
	// +kubebuilder:validation:Pattern="^(http|https)://.*$"
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Proxy string `json:"proxy,omitempty"`

	// ProxySecretRef names a Secret in the same namespace with the proxy
	// to deliver through: key "address", and optionally "username" and
	// "password".
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// SecretRef names a Secret in the same namespace with the credentials
	// for the service: any of "address", "token", "username", "password",
	// and "headers" (YAML map of extra HTTP headers).
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// ServiceAccountName is a ServiceAccount in the same namespace whose
	// token is exchanged for cloud credentials (workload identity), for
	// azureeventhub, azuredevops and googlepubsub. It cannot be combined
	// with static credentials in secretRef.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// CertSecretRef names a Secret in the same namespace with TLS material
	// for the connection: "ca.crt" to trust a private CA, and "tls.crt"
	// with "tls.key" for a client certificate.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// Suspend stops deliveries through this Provider until unset; events
	// that arrive meanwhile are dropped.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ProviderStatus is what the controller last observed of a Provider. Flux
// keeps no status for v1beta3 Providers; gotk reports whether the
// referenced Secrets are usable.
type ProviderStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether the Provider can deliver.
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

// Provider is a destination for notifications: a chat channel, an incident
// service, a generic webhook, or a Git host that receives commit statuses.
// Alerts name a Provider to send their events to.
type Provider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Provider.
	// +optional
	Spec ProviderSpec `json:"spec,omitempty"`

	// Status is the observed state of the Provider.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ProviderStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &Provider{}

// GetConditions returns the status conditions.
func (in *Provider) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *Provider) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns the deprecated spec.interval when set, and 0
// otherwise: a Provider is reconciled when it or a Secret it references
// changes, not on a schedule.
func (in *Provider) GetRequeueAfter() time.Duration {
	if in.Spec.Interval != nil {
		return in.Spec.Interval.Duration
	}
	return 0
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *Provider) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *Provider) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *Provider) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetTimeout returns spec.timeout, or DefaultProviderTimeout when unset.
func (in *Provider) GetTimeout() time.Duration {
	if in.Spec.Timeout != nil && in.Spec.Timeout.Duration > 0 {
		return in.Spec.Timeout.Duration
	}
	return DefaultProviderTimeout
}

// +kubebuilder:object:root=true

// ProviderList is a list of Providers.
type ProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Providers.
	Items []Provider `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&Provider{}, &ProviderList{}))
}
