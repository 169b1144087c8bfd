#!/usr/bin/env bash
# Builds the Kubernetes binaries that gotk's tests and demo run as local processes
# (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok) from the Go
# module proxy, caches them, and prints the directory that holds them.
#
# The cache lives outside the repository, keyed by version, so a second run takes
# seconds: ${XDG_CACHE_HOME:-$HOME/.cache}/gotk/k8s/<versions>/.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.${KUBE_VERSION#v1.}}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

cache=${XDG_CACHE_HOME:-$HOME/.cache}/gotk/k8s/kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}
want=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)

have_all() {
  for b in "${want[@]}"; do [ -x "$cache/$b" ] || return 1; done
  [ -d "$cache/kwok-stages" ] && stamped
}

# The Kubernetes binaries carry their release in k8s.io/component-base/version, as
# the released ones do; unstamped they report v0.0.0-master, and Helm then refuses
# every chart with a kubeVersion constraint. Older caches hold unstamped builds.
stamped() {
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$cache/$b" ] || continue
    case $("$cache/$b" --version 2>/dev/null) in
      "Kubernetes ${KUBE_VERSION}") ;;
      *) return 1 ;;
    esac
  done
}

if have_all; then
  echo "$cache"
  exit 0
fi

log() { echo "kube-binaries: $*" >&2; }
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0

build_kube() {
  local dir=$work/kube
  mkdir -p "$dir"
  cd "$dir"
  go mod init gotk.local/kube-binaries >/dev/null 2>&1
  # k8s.io/kubernetes replaces each staging module with ./staging/...; a module that
  # depends on it must replace them with their published versions instead.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"${STAGING_VERSION}"'#p' "$gomod"
  } >>go.mod
  cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  go mod tidy >&2
  local minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    if [ -x "$cache/$b" ] && [ "$("$cache/$b" --version 2>/dev/null)" = "Kubernetes ${KUBE_VERSION}" ]; then
      continue
    fi
    log "building $b ${KUBE_VERSION} (a cold build takes minutes)"
    go build -trimpath -ldflags="$ldflags" -o "$cache/$b.tmp" "k8s.io/kubernetes/cmd/$b" && mv "$cache/$b.tmp" "$cache/$b"
  done
}

build_etcd() {
  [ -x "$cache/etcd" ] && return
  local dir=$work/etcd
  mkdir -p "$dir" && cd "$dir"
  go mod init gotk.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2
  log "building etcd ${ETCD_VERSION}"
  go build -trimpath -ldflags="-s -w" -o "$cache/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$cache/etcd.tmp" "$cache/etcd"
}

build_kwok() {
  [ -x "$cache/kwok" ] && return
  local dir=$work/kwok
  mkdir -p "$dir" && cd "$dir"
  go mod init gotk.local/kwok >/dev/null 2>&1
  go get "sigs.k8s.io/kwok@${KWOK_VERSION}" >&2
  log "building kwok ${KWOK_VERSION}"
  go build -trimpath -ldflags="-s -w" -o "$cache/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok && mv "$cache/kwok.tmp" "$cache/kwok"
  # The Stage configs that make a node Ready and pods Running ship inside the module.
  local mod
  mod=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  mkdir -p "$cache/kwok-stages"
  local f
  for f in "$mod"/kustomize/stage/node/fast/*.yaml "$mod"/kustomize/stage/node/heartbeat/*.yaml \
           "$mod"/kustomize/stage/pod/fast/*.yaml; do
    case $(basename "$f") in kustomization.yaml) continue ;; esac
    cp "$f" "$cache/kwok-stages/"
  done
  chmod -R u+w "$cache/kwok-stages"
}

(build_etcd)
(build_kube)
(build_kwok)

if ! have_all; then
  log "some binaries are missing from $cache"
  exit 1
fi
echo "$cache"
