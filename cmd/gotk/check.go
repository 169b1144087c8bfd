package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/install"
)

// minKubernetes is the oldest Kubernetes that gotk supports.
const minKubernetes = "1.30.0"

func newCheckCmd(c *cli) *cobra.Command {
	var pre bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that the cluster can run gotk, and that gotk is healthy",
		Long: `Check the cluster and the gotk install.

With --pre, check only what install needs: a Kubernetes version of at least
` + minKubernetes + ` and the permission to create CustomResourceDefinitions.

Without it, also check that every gotk CRD is installed and Established (and
list the versions it serves), and that every gotk controller Deployment in the
gotk namespace is Available. check exits non-zero and lists what is wrong when
anything is.`,
		Example: `  # Before installing
  gotk check --pre

  # After installing, in the default namespace gotk-system
  gotk check

  # An install in another namespace
  gotk check -n gitops`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.Context(), c, pre)
		},
	}
	cmd.Flags().BoolVar(&pre, "pre", false, "Check only the prerequisites of an install.")
	return cmd
}

func runCheck(ctx context.Context, c *cli, pre bool) error {
	p := newPrinter(c.out)
	cl, info, err := c.connect()
	if err != nil {
		return err
	}
	var problems []string
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		p.fail("%s", msg)
		problems = append(problems, msg)
	}

	if v, err := checkServerVersion(info); err != nil {
		fail("%s", err)
	} else {
		p.ok("Kubernetes %s >= %s", v, minKubernetes)
	}

	if pre {
		allowed, reason, err := mayCreateCRDs(ctx, cl)
		switch {
		case err != nil:
			fail("cannot tell whether you may create CustomResourceDefinitions: %v", err)
		case !allowed:
			fail("you may not create CustomResourceDefinitions%s: install needs a cluster administrator", reason)
		default:
			p.ok("you may create CustomResourceDefinitions")
		}
		return checkResult(problems, "prerequisites")
	}

	crdProblems, err := checkCRDs(ctx, cl, p)
	if err != nil {
		return err
	}
	problems = append(problems, crdProblems...)
	ctlProblems, err := checkControllers(ctx, cl, p, c.namespace())
	if err != nil {
		return err
	}
	problems = append(problems, ctlProblems...)
	return checkResult(problems, "check")
}

func checkResult(problems []string, what string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s failed with %d problem(s):\n  - %s", what, len(problems), strings.Join(problems, "\n  - "))
}

// serverVersion reads the API server's version: its gitVersion, or, when
// that is not a release version (a build from source reports
// v0.0.0-master), its major and minor numbers.
func serverVersion(info *version.Info) (*utilversion.Version, error) {
	if v, err := utilversion.ParseGeneric(info.GitVersion); err == nil && v.Major() > 0 {
		return v, nil
	}
	// Some providers append "+" to the minor version.
	minor := strings.TrimRight(info.Minor, "+")
	v, err := utilversion.ParseGeneric(info.Major + "." + minor)
	if err != nil {
		return nil, fmt.Errorf("cannot read the Kubernetes version (gitVersion %q, major %q, minor %q)", info.GitVersion, info.Major, info.Minor)
	}
	return v, nil
}

// checkServerVersion fails for a Kubernetes older than minKubernetes and
// returns the version otherwise.
func checkServerVersion(info *version.Info) (*utilversion.Version, error) {
	v, err := serverVersion(info)
	if err != nil {
		return nil, err
	}
	if v.LessThan(utilversion.MustParseGeneric(minKubernetes)) {
		return nil, fmt.Errorf("Kubernetes %s is older than %s, the oldest that gotk supports: upgrade the cluster first", v, minKubernetes)
	}
	return v, nil
}

// mayCreateCRDs asks the API server whether the current user may create
// CustomResourceDefinitions.
func mayCreateCRDs(ctx context.Context, cl client.Client) (bool, string, error) {
	review := &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb:     "create",
				Group:    apiextensionsv1.GroupName,
				Resource: "customresourcedefinitions",
			},
		},
	}
	if err := cl.Create(ctx, review); err != nil {
		return false, "", err
	}
	reason := ""
	if review.Status.Reason != "" {
		reason = " (" + review.Status.Reason + ")"
	}
	return review.Status.Allowed, reason, nil
}

// checkCRDs reports each gotk CRD with the versions it serves.
func checkCRDs(ctx context.Context, cl client.Client, p *printer) ([]string, error) {
	want, err := install.CRDs()
	if err != nil {
		return nil, err
	}
	var problems, missing []string
	var found []*apiextensionsv1.CustomResourceDefinition
	for _, w := range want {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := cl.Get(ctx, client.ObjectKey{Name: w.Name}, crd); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("read CRD %s: %w", w.Name, err)
			}
			missing = append(missing, w.Name)
			continue
		}
		found = append(found, crd)
	}
	if len(found) == 0 {
		msg := "no gotk CRD is installed: run gotk install"
		p.fail("%s", msg)
		return []string{msg}, nil
	}
	for _, name := range missing {
		msg := fmt.Sprintf("CRD %s is not installed: run gotk install again", name)
		p.fail("%s", msg)
		problems = append(problems, msg)
	}
	for _, crd := range found {
		if !established(crd) {
			msg := fmt.Sprintf("CRD %s is not Established yet: see kubectl get crd %s -o yaml", crd.Name, crd.Name)
			p.fail("%s", msg)
			problems = append(problems, msg)
			continue
		}
		var served []string
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served = append(served, v.Name)
			}
		}
		p.ok("%s: %s", crd.Name, strings.Join(served, ", "))
	}
	return problems, nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// checkControllers reports each gotk Deployment in namespace as Available
// or not, by kstatus.
func checkControllers(ctx context.Context, cl client.Client, p *printer, namespace string) ([]string, error) {
	list := &appsv1.DeploymentList{}
	if err := cl.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{install.PartOfLabel: install.PartOfValue}); err != nil {
		return nil, fmt.Errorf("list the gotk Deployments in namespace %s: %w", namespace, err)
	}
	if len(list.Items) == 0 {
		msg := fmt.Sprintf("no gotk controllers in namespace %s: run gotk install, or name their namespace with -n", namespace)
		p.fail("%s", msg)
		return []string{msg}, nil
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	var problems []string
	for _, d := range list.Items {
		ref := install.ObjectRef{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: d.Namespace, Name: d.Name}
		st, err := install.StatusOf(ctx, cl, ref)
		if err != nil {
			return nil, err
		}
		if st.Status == status.CurrentStatus {
			p.ok("%s: Available (%s)", d.Name, imageTag(d))
			continue
		}
		msg := fmt.Sprintf("controller %s is not Available: %s; see kubectl -n %s describe deployment %s", d.Name, st.Message, namespace, d.Name)
		p.fail("%s", msg)
		problems = append(problems, msg)
	}
	return problems, nil
}
