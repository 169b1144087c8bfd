// Package kustomize turns the extracted artifact of a source, plus the spec
// of a Kustomization, into the objects to apply, and substitutes post-build
// variables in them. It talks to the Kubernetes API only through VarSource,
// to read the ConfigMaps and Secrets of spec.postBuild.substituteFrom.
//
// # Build
//
// Build runs kustomize (sigs.k8s.io/kustomize/api, krusty) on spec.path:
//
//   - The path is confined to the artifact root: a ".." that climbs out of
//     it, or a symlink that leads out of it, is an error naming the path. A
//     leading "/" means the root, as in Flux.
//   - Kustomize sees the artifact through a read-only file system that
//     resolves every path and refuses anything outside the root, so a base
//     in a sibling directory of the artifact works and /etc/passwd does
//     not. The user's files are never modified: the generated or amended
//     kustomization lives in memory and shadows the file on disk, which
//     lets many builds share one read-only extraction.
//   - A directory without kustomization.yaml, kustomization.yml or
//     Kustomization gets one generated, listing its YAML files recursively
//     (a subdirectory with a kustomization of its own is listed whole).
//     As in Flux, a YAML document that is not a Kubernetes object (no
//     apiVersion and no kind) fails the build, and so does a syntax error
//     or an object with only one of the two; the error names the file, the
//     document and its line. Empty documents and comments are fine.
//     .sourceignore keeps CI files and the like out of the artifact.
//   - The spec is laid over the kustomization as Flux does: targetNamespace,
//     namePrefix and nameSuffix replace the kustomization's own; patches
//     (strategic merge or JSON 6902, with target selectors) and components
//     (relative to spec.path, the missing ones dropped when
//     ignoreMissingComponents is set) are appended; an image replaces the
//     kustomization's entry of the same name. commonMetadata labels and
//     annotations are set on every built object afterwards, without
//     touching selectors (so, unlike Flux, which sets them at apply time, a
//     ${var} in them is substituted by Substitute).
//   - Before kustomize runs, every kustomization reachable from spec.path is
//     read, so that an unknown field, a missing resource and a reference
//     out of the artifact are reported with the file that holds them, and,
//     with BuildOptions.NoRemoteBases, a remote reference (git URL,
//     github.com path, http(s) file) is refused with its URL before
//     kustomize could start git or an HTTP download.
//   - Only kustomize's builtin plugins run; Helm chart inflation is off.
//   - A plain directory (a generated kustomization whose resources are
//     all files) skips the kustomize build when the spec changes nothing
//     but commonMetadata and targetNamespace: its files are read with
//     kustomize's resource factory (so values read as in kustomize and
//     Flux: YAML 1.2, where yes and on are strings), and, with a
//     targetNamespace, moved with kustomize's own code:
//     its namespace transformer (metadata.namespace of namespaced kinds,
//     the name of a Namespace, the service namespace of an APIService and
//     of a CRD conversion webhook, role binding subjects named "default")
//     and its name-reference filter for the references that carry a
//     namespace (role binding subjects, webhook services), with the field
//     lists of kustomize's default configuration. Each object is moved on
//     its own and identities are checked with a map, so this costs the
//     object count where a build costs its square. An object with an
//     annotation that steers kustomize (config.kubernetes.io/...,
//     kustomize.config.k8s.io/...), two objects with one identity before
//     or after the move, or anything kustomize fails on sends the
//     directory to a full build, which gives the result or the error.
//     It holds the lock that serialises kustomize, whose notion of which
//     kinds are cluster-scoped lives in package state.
//
// # Substitution
//
// Substitute replaces ${var} expressions the way Flux's post-build
// substitution does (see Expand for the syntax): each object is written as
// YAML, substituted as text and read back, unless it is labelled or
// annotated kustomize.toolkit.fluxcd.io/substitute: disabled. Values come
// from LoadVariables: substituteFrom objects in order (a later one wins),
// then the inline substitute map, which wins over all; newlines are removed
// from values. Variable names must match VarNamePattern. A variable that is
// not set renders as an empty string, which is Flux's default; the strict
// mode of SubstituteWithOptions (Flux's StrictPostBuildSubstitutions
// feature gate) makes it an error instead. Nothing is substituted when no
// variable is defined, unless spec.postBuild.substituteStrategy is Always.
package kustomize
