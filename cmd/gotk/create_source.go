package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

// Values of --verify-provider: the two kinds of public key that a
// GitRepository's verification Secret may hold.
const (
	verifyOpenPGP = "openpgp"
	verifySSH     = "ssh"
)

type sourceGitFlags struct {
	createFlags
	url, branch, tag, semver, commit, refName string
	secretRef                                 string
	interval, fetchTimeout                    time.Duration
	ignorePaths                               []string
	verifyProvider, verifyMode, verifySecret  string
	recurseSubmodules                         bool
}

func newCreateSourceGitCmd(c *cli) *cobra.Command {
	f := &sourceGitFlags{}
	cmd := &cobra.Command{
		Use:   "git NAME",
		Short: "Create or update a GitRepository and wait until it has fetched",
		Long: `Create or update a GitRepository, then wait until the source controller has
fetched the reference and stored an artifact of it, and print its revision.

Exactly one reference is needed: --branch, --tag, --tag-semver, --ref-name or
--commit (--commit may go with --branch). Credentials come from a Secret named
with --secret-ref: make one with gotk create secret git.

--verify-secret-ref turns on signature verification (spec.verify) with the
keys in that Secret; --verify-mode says what is verified (HEAD, the default;
Tag; or TagAndHEAD). The API has no provider field: the controller trusts any
armored OpenPGP key and any SSH public key in the Secret. --verify-provider
(openpgp or ssh) makes create check, before applying, that the Secret holds
keys of that kind.`,
		Example: `  # Follow a branch
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master

  # The newest tag in a semver range, checked every 10 minutes
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo \
    --tag-semver=">=6.0.0 <7.0.0" --interval=10m

  # A private repository over SSH, leaving out docs and tests
  gotk create secret git podinfo-ssh --url=ssh://git@github.com/org/podinfo
  gotk create source git podinfo --url=ssh://git@github.com/org/podinfo --branch=main \
    --secret-ref=podinfo-ssh --ignore-paths="docs/,*.test.yaml"

  # Only signed commits, checked with the OpenPGP keys in a Secret
  gotk create source git podinfo --url=https://github.com/org/podinfo --branch=main \
    --verify-provider=openpgp --verify-secret-ref=pgp-public-keys

  # Print the YAML instead of applying it
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --export`,
		Args: exactlyOneName("GitRepository"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateSourceGit(cmd.Context(), c, f, obj)
		},
	}
	f.bind(cmd, "GitRepository")
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "URL of the repository: https://, http:// or ssh://.")
	fl.StringVar(&f.branch, "branch", "", "Branch to follow.")
	fl.StringVar(&f.tag, "tag", "", "Tag to check out.")
	fl.StringVar(&f.semver, "tag-semver", "", "Semver range: the newest tag in it is checked out.")
	fl.StringVar(&f.commit, "commit", "", "Commit to check out (with --branch: a commit of that branch).")
	fl.StringVar(&f.refName, "ref-name", "", "Full reference to check out, such as refs/pull/42/head.")
	fl.StringVar(&f.secretRef, "secret-ref", "", "Secret with the credentials (see gotk create secret git).")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the controller checks the repository.")
	fl.DurationVar(&f.fetchTimeout, "fetch-timeout", 0, "Timeout of Git operations (spec.timeout); the controller's default is 60s.")
	fl.StringSliceVar(&f.ignorePaths, "ignore-paths", nil, "Paths to leave out of the artifact, in .gitignore syntax (comma-separated; becomes spec.ignore).")
	fl.StringVar(&f.verifyProvider, "verify-provider", "", "Kind of keys in the verification Secret, checked before applying: openpgp or ssh.")
	fl.StringVar(&f.verifyMode, "verify-mode", "", "What to verify: HEAD (the default with --verify-secret-ref), Tag or TagAndHEAD.")
	fl.StringVar(&f.verifySecret, "verify-secret-ref", "", "Secret with the public keys that signatures must verify with.")
	fl.BoolVar(&f.recurseSubmodules, "recurse-submodules", false, "Include the repository's submodules in the artifact.")
	_ = cmd.RegisterFlagCompletionFunc("verify-provider", cobra.FixedCompletions([]string{verifyOpenPGP, verifySSH}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("verify-mode", cobra.FixedCompletions([]string{"HEAD", "Tag", "TagAndHEAD"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = c.completeNames(gitRepositoryKind)
	return cmd
}

// exactlyOneName accepts one argument, a valid object name.
func exactlyOneName(kind string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%s needs the name of the %s, and only that: %s NAME", cmd.CommandPath(), kind, cmd.CommandPath())
		}
		return validateName(kind, args[0])
	}
}

// build turns the flags into a GitRepository.
func (f *sourceGitFlags) build(name, namespace string) (*sourcev1.GitRepository, error) {
	if f.url == "" {
		return nil, errors.New("--url is required: the address of the Git repository")
	}
	if _, err := parseURLFlag(f.url, "https://github.com/org/repo", "git", "https", "http", "ssh"); err != nil {
		return nil, err
	}
	ref, err := f.ref()
	if err != nil {
		return nil, err
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 1m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: sourcev1.GitRepositorySpec{
			URL:               f.url,
			Interval:          metav1.Duration{Duration: f.interval},
			Reference:         ref,
			RecurseSubmodules: f.recurseSubmodules,
		},
	}
	if f.fetchTimeout > 0 {
		obj.Spec.Timeout = &metav1.Duration{Duration: f.fetchTimeout}
	}
	if f.secretRef != "" {
		obj.Spec.SecretRef = &meta.LocalObjectReference{Name: f.secretRef}
	}
	if ignore := ignoreLines(f.ignorePaths); ignore != "" {
		obj.Spec.Ignore = &ignore
	}
	verify, err := f.verification(ref)
	if err != nil {
		return nil, err
	}
	obj.Spec.Verification = verify
	return obj, nil
}

// parseURLFlag checks --url: a URL with a host, of one of schemes, and
// without a password (credentials go in a Secret, made with gotk create
// secret secretCmd).
func parseURLFlag(raw, example, secretCmd string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url %q is not a URL with a host, such as %s", raw, example)
	}
	if !slices.Contains(schemes, u.Scheme) {
		use := make([]string, len(schemes))
		for i, sc := range schemes {
			use[i] = sc + "://"
		}
		last := len(use) - 1
		return nil, fmt.Errorf("--url %q: scheme %q is not supported; use %s or %s", raw, u.Scheme, strings.Join(use[:last], ", "), use[last])
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("--url must not carry a password: put credentials in a Secret (gotk create secret %s) and name it with --secret-ref", secretCmd)
	}
	return u, nil
}

// ref reads the one reference flag that is set.
func (f *sourceGitFlags) ref() (*sourcev1.GitRepositoryRef, error) {
	var set []string
	for flag, v := range map[string]string{"--branch": f.branch, "--tag": f.tag, "--tag-semver": f.semver, "--ref-name": f.refName, "--commit": f.commit} {
		if v != "" {
			set = append(set, flag)
		}
	}
	switch {
	case len(set) == 0:
		return nil, errors.New("a Git reference is required: use one of --branch, --tag, --tag-semver, --ref-name or --commit")
	case len(set) == 2 && f.commit != "" && f.branch != "":
	case len(set) > 1:
		return nil, fmt.Errorf("use only one Git reference (--commit may go with --branch); got --branch=%q --tag=%q --tag-semver=%q --ref-name=%q --commit=%q",
			f.branch, f.tag, f.semver, f.refName, f.commit)
	}
	if f.refName != "" && !strings.HasPrefix(f.refName, "refs/") {
		return nil, fmt.Errorf("--ref-name %q must be a full reference starting with refs/, such as refs/heads/main", f.refName)
	}
	return &sourcev1.GitRepositoryRef{Branch: f.branch, Tag: f.tag, SemVer: f.semver, Name: f.refName, Commit: f.commit}, nil
}

// verification reads the --verify-* flags.
func (f *sourceGitFlags) verification(ref *sourcev1.GitRepositoryRef) (*sourcev1.GitRepositoryVerification, error) {
	switch f.verifyProvider {
	case "", verifyOpenPGP, verifySSH:
	default:
		return nil, fmt.Errorf("--verify-provider %q is not supported: use openpgp or ssh", f.verifyProvider)
	}
	if f.verifySecret == "" {
		if f.verifyProvider != "" || f.verifyMode != "" {
			return nil, errors.New("--verify-provider and --verify-mode need --verify-secret-ref: the Secret with the public keys")
		}
		return nil, nil
	}
	mode := sourcev1.GitVerificationMode(f.verifyMode)
	if mode == "" {
		mode = sourcev1.ModeGitHEAD
	}
	if !mode.Valid() {
		return nil, fmt.Errorf("--verify-mode %q is not supported: use HEAD, Tag or TagAndHEAD", f.verifyMode)
	}
	if mode != sourcev1.ModeGitHEAD && ref.Tag == "" && ref.SemVer == "" {
		return nil, fmt.Errorf("--verify-mode=%s verifies a tag: use it with --tag or --tag-semver", mode)
	}
	return &sourcev1.GitRepositoryVerification{Mode: mode, SecretRef: meta.LocalObjectReference{Name: f.verifySecret}}, nil
}

// ignoreLines turns --ignore-paths into spec.ignore, one pattern a line.
func ignoreLines(paths []string) string {
	var lines []string
	for _, p := range paths {
		if p = strings.TrimSpace(p); p != "" {
			lines = append(lines, p)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func runCreateSourceGit(ctx context.Context, c *cli, f *sourceGitFlags, obj *sourcev1.GitRepository) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	if f.verifyProvider != "" {
		if err := checkVerifySecret(ctx, c, cl, obj.Namespace, f.verifySecret, f.verifyProvider); err != nil {
			return err
		}
	}
	_, err = applySourceAndWait(ctx, c, cl, gitRepositoryKind, obj, f.timeout, true)
	return err
}

// applySourceAndWait applies a source, waits until it is Ready and prints
// the revision it fetched. A source that publishes no artifact when Ready
// (an OCI HelmRepository) passes needArtifact false.
func applySourceAndWait(ctx context.Context, c *cli, cl client.Client, k gotkKind, obj client.Object, timeout time.Duration, needArtifact bool) (*unstructured.Unstructured, error) {
	key := client.ObjectKeyFromObject(obj)
	c.status.step("applying %s %s", k.Kind(), key)
	created, err := applyTyped(ctx, cl, obj)
	if err != nil {
		return nil, err
	}
	c.status.ok("%s %s %s", k.Kind(), key, createdOrConfigured(created))
	u, err := c.waitFor(ctx, cl, k, key, waitOptions{timeout: timeout})
	if err != nil {
		return u, err
	}
	rev := k.Revision(u)
	switch {
	case rev != "":
		c.status.ok("fetched revision %s", rev)
	case needArtifact:
		return u, fmt.Errorf("%s %s is Ready but has no artifact: see gotk events --for %s/%s -n %s", k.Kind(), key, k.Kind(), key.Name, key.Namespace)
	}
	return u, nil
}

// checkVerifySecret checks that the verification Secret holds keys of the
// kind --verify-provider names. A Secret that does not exist yet is only
// a warning: the source waits for it.
func checkVerifySecret(ctx context.Context, c *cli, cl client.Client, namespace, name, provider string) error {
	s := &corev1.Secret{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			c.status.warn("verification Secret %s/%s does not exist yet: the GitRepository fails verification until it does", namespace, name)
			return nil
		}
		return fmt.Errorf("read verification Secret %s/%s: %w", namespace, name, err)
	}
	for _, v := range s.Data {
		switch provider {
		case verifyOpenPGP:
			if bytes.Contains(v, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
				return nil
			}
		case verifySSH:
			if _, _, _, _, err := ssh.ParseAuthorizedKey(v); err == nil {
				return nil
			}
		}
	}
	want := "armored OpenPGP public key"
	if provider == verifySSH {
		want = "SSH public key (authorized_keys format)"
	}
	return fmt.Errorf("verification Secret %s/%s holds no %s, as --verify-provider=%s expects: put the keys in its data, one key per entry", namespace, name, want, provider)
}
