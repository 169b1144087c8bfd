// Package meta holds the shapes that every gotk API group shares: object
// references, the artifact that sources publish, the reconcile-request
// bookkeeping of status, and the condition types and reasons that all
// controllers speak.
//
// +kubebuilder:object:generate=true
package meta
