package release

import (
	"bytes"
	"fmt"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/resource"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// crdWaitTimeout bounds the wait for applied CRDs to be established.
const crdWaitTimeout = time.Minute

// installCRDsPolicy is the CRD policy of an install: spec.install.crds,
// Skip with the deprecated skipCRDs, Create by default.
func installCRDsPolicy(spec helmv2.Install) helmv2.CRDsPolicy {
	switch {
	case spec.CRDs != "":
		return spec.CRDs
	case spec.SkipCRDs:
		return helmv2.Skip
	}
	return helmv2.Create
}

// upgradeCRDsPolicy is the CRD policy of an upgrade: spec.upgrade.crds,
// Skip by default (Helm never touches CRDs on upgrade).
func upgradeCRDsPolicy(spec helmv2.Upgrade) helmv2.CRDsPolicy {
	if spec.CRDs != "" {
		return spec.CRDs
	}
	return helmv2.Skip
}

// applyCRDs applies the CRDs of the chart's crds/ directory as policy
// says, before the install or upgrade (which then skips them), as Flux's
// helm-controller does: Create creates the missing ones and leaves the
// others, CreateReplace creates the missing ones and replaces the others
// with the chart's. CRDs are never deleted. The applied CRDs are waited
// for until established, and discovery is refreshed so that the release's
// custom resources map.
func (r *Runner) applyCRDs(policy helmv2.CRDsPolicy, ch *chart.Chart, action string) error {
	crds := ch.CRDObjects()
	if policy == helmv2.Skip || len(crds) == 0 {
		return nil
	}
	if policy != helmv2.Create && policy != helmv2.CreateReplace {
		return fmt.Errorf("spec.%s.crds: unknown policy %q: must be Skip, Create or CreateReplace", action, policy)
	}
	var applied kube.ResourceList
	for _, file := range crds {
		if file.File == nil || len(bytes.TrimSpace(file.File.Data)) == 0 {
			continue
		}
		infos, err := r.cfg.KubeClient.Build(bytes.NewReader(file.File.Data), false)
		if err != nil {
			return fmt.Errorf("CRDs of chart file %s: %w", file.Filename, err)
		}
		for _, info := range infos {
			if err := applyCRD(info, policy); err != nil {
				return fmt.Errorf("CustomResourceDefinition %s (chart file %s, crds policy %s): %w", info.Name, file.Filename, policy, err)
			}
			applied = append(applied, info)
		}
	}
	if len(applied) == 0 {
		return nil
	}
	waiter, err := r.cfg.KubeClient.GetWaiter(kube.StatusWatcherStrategy)
	if err != nil {
		return err
	}
	if err := waiter.Wait(applied, crdWaitTimeout); err != nil {
		return fmt.Errorf("wait for the chart's CustomResourceDefinitions to be established: %w", err)
	}
	// The CRDs are new to discovery: forget what was cached, for the
	// action's capabilities and REST mapping.
	r.cfg.Capabilities = nil
	r.capabilities.Invalidate()
	if dc, err := r.cfg.RESTClientGetter.ToDiscoveryClient(); err == nil {
		dc.Invalidate()
	}
	if m, err := r.cfg.RESTClientGetter.ToRESTMapper(); err == nil {
		if rm, ok := m.(interface{ Reset() }); ok {
			rm.Reset()
		}
	}
	return nil
}

// applyCRD creates the CRD of info, or with CreateReplace replaces the
// one that exists (its resourceVersion taken from the server).
func applyCRD(info *resource.Info, policy helmv2.CRDsPolicy) error {
	if info.Mapping == nil || info.Mapping.GroupVersionKind.Kind != "CustomResourceDefinition" {
		return fmt.Errorf("not a CustomResourceDefinition: only CRDs belong in crds/")
	}
	helper := resource.NewHelper(info.Client, info.Mapping)
	if policy == helmv2.CreateReplace {
		obj, err := helper.Replace("", info.Name, true, info.Object)
		if err == nil {
			return info.Refresh(obj, true)
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("replace: %w", err)
		}
	}
	obj, err := helper.Create("", true, info.Object)
	if err != nil {
		if apierrors.IsAlreadyExists(err) && policy == helmv2.Create {
			return nil
		}
		return fmt.Errorf("create: %w", err)
	}
	return info.Refresh(obj, true)
}
