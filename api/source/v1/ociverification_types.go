package v1

import "github.com/gotk-dev/gotk/api/meta"

// Signature verification providers for OCI artifacts and Helm charts.
const (
	// CosignVerificationProvider verifies Sigstore cosign signatures, with
	// public keys or keyless (OIDC identities).
	CosignVerificationProvider = "cosign"
	// NotationVerificationProvider verifies Notary Project signatures
	// against a trust policy and certificates.
	NotationVerificationProvider = "notation"
)

// OCIVerification says how to check the signature of an OCI artifact or of
// a Helm chart stored in an OCI registry.
type OCIVerification struct {
	// Provider is the signing technology: "cosign" (the default) or
	// "notation".
	// +kubebuilder:validation:Enum=cosign;notation
	// +kubebuilder:default:=cosign
	// +required
	Provider string `json:"provider"`

	// SecretRef names a Secret in the same namespace with the trusted
	// material: cosign public keys (keys ending in .pub), or, for notation,
	// a trust policy ("trustpolicy.json") and CA certificates. Without it,
	// cosign verifies keyless signatures.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// MatchOIDCIdentity restricts keyless cosign verification to
	// signatures whose certificate identity matches one of these entries.
	// When empty, any identity is accepted.
	// +optional
	MatchOIDCIdentity []OIDCIdentityMatch `json:"matchOIDCIdentity,omitempty"`
}

// OIDCIdentityMatch matches the issuer and subject of the Fulcio
// certificate of a keyless signature, both as Go regular expressions.
type OIDCIdentityMatch struct {
	// Issuer is a regular expression for the OIDC issuer, such as
	// "^https://token\\.actions\\.githubusercontent\\.com$".
	// +required
	Issuer string `json:"issuer"`

	// Subject is a regular expression for the signer identity, such as
	// "^https://github\\.com/org/repo/.*$".
	// +required
	Subject string `json:"subject"`
}

// OCIRepositoryVerification is the verification of an OCIRepository: the
// common OCI verification, plus a custom Sigstore trust root.
type OCIRepositoryVerification struct {
	OCIVerification `json:",inline"`

	// TrustedRootSecretRef names a Secret in the same namespace with a
	// Sigstore "trusted_root.json", to verify keyless signatures against a
	// private Sigstore (own Fulcio CA, own Rekor log) instead of the public
	// one.
	// +optional
	TrustedRootSecretRef *meta.LocalObjectReference `json:"trustedRootSecretRef,omitempty"`
}
