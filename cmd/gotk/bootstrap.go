package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/git"
	"github.com/gotk-dev/gotk/internal/install"
)

// The files bootstrap keeps in <path>/<namespace>/.
const (
	componentsFile    = "gotk-components.yaml"
	syncFile          = "gotk-sync.yaml"
	kustomizationFile = "kustomization.yaml"
	generatedHeader   = "# Written by gotk bootstrap: the next bootstrap overwrites changes made here.\n"
)

type bootstrapFlags struct {
	url, branch, path               string
	username, password, bearerToken string
	privateKeyFile, caFile          string
	secretName                      string
	interval                        time.Duration
	authorName, authorEmail         string
	timeout                         time.Duration
	install                         install.Options
	silent                          bool
}

func newBootstrapCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Install gotk and make it manage itself from a Git repository",
		Example: `  # Bootstrap from a repository over SSH
  gotk bootstrap git --url=ssh://git@github.com/org/fleet --path=clusters/prod \
    --private-key-file=./id_ed25519`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newBootstrapGitCmd(c))
	return cmd
}

func newBootstrapGitCmd(c *cli) *cobra.Command {
	f := &bootstrapFlags{install: install.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "git",
		Short: "Bootstrap gotk from any Git server, over HTTPS or SSH",
		Long: `Bootstrap commits gotk's own manifests to a Git repository and installs gotk
so that it keeps itself, and whatever else the repository declares under
--path, in sync with that repository:

  1. clone --branch of --url (an empty repository, or a missing branch, is
     started afresh);
  2. write <path>/<namespace>/gotk-components.yaml (what gotk install
     applies), gotk-sync.yaml (a GitRepository and a Kustomization, both
     named after the namespace, that sync --path) and kustomization.yaml
     (only when absent, so that patches you add to it stay), commit them
     if they changed, and push;
  3. install the controllers, as gotk install does, and wait until they
     are Available;
  4. apply the Secret with the Git credentials (never committed) and the
     GitRepository and Kustomization;
  5. have both reconciled now and wait until the Kustomization has applied
     the pushed revision.

Running bootstrap again is safe: nothing is committed when the manifests are
the same, and a newer gotk or other install flags upgrade the manifests in Git
and in the cluster. Pass the install flags (--components...) again each time.

Credentials: an ssh:// URL uses one key both to push and, in the Secret, for
the GitRepository: --private-key-file; without it, the key that the Secret
holds from an earlier bootstrap; without either, a new ed25519 key, whose
public half bootstrap prints and asks you to add to the repository as a deploy
key with write access before it pushes (--silent does not ask). The server's
host key is scanned and stored in known_hosts. An https:// URL takes
--username/--password (a token as password works with most servers) or
--bearer-token, and --ca-file for a private CA. Secret values are never
printed.`,
		Example: `  # Over SSH, with a deploy key that has write access
  gotk bootstrap git --url=ssh://git@github.com/org/fleet --branch=main \
    --path=clusters/prod --private-key-file=./id_ed25519

  # Over SSH with a new deploy key: bootstrap prints it and waits for a y
  gotk bootstrap git --url=ssh://git@github.com/org/fleet --path=clusters/dev

  # Over HTTPS with a token
  gotk bootstrap git --url=https://git.example.com/org/fleet.git \
    --path=clusters/staging --username=git --password="$GIT_TOKEN"

  # Run it again after upgrading the CLI: commits and applies the new manifests
  gotk bootstrap git --url=ssh://git@github.com/org/fleet --path=clusters/prod \
    --private-key-file=./id_ed25519`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBootstrapGit(cmd, c, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "URL of the Git repository: ssh://, https:// or http://.")
	fl.StringVar(&f.branch, "branch", "main", "Branch to commit to and to sync from.")
	fl.StringVar(&f.path, "path", ".", "Directory in the repository that the cluster syncs, such as clusters/prod.")
	fl.StringVarP(&f.username, "username", "u", "", "Basic auth user name (HTTPS).")
	fl.StringVarP(&f.password, "password", "p", "", "Basic auth password or token (HTTPS), or the passphrase of --private-key-file (SSH).")
	fl.StringVar(&f.bearerToken, "bearer-token", "", "Bearer token (HTTPS).")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "Private key with write access to the repository (SSH); without it, the key of the Secret from an earlier bootstrap, or a new one to add as a deploy key.")
	fl.BoolVar(&f.silent, "silent", false, "Do not ask whether a newly generated deploy key was added to the repository.")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the Git server's certificate (HTTPS).")
	fl.StringVar(&f.secretName, "secret-name", "", "Name of the Secret with the Git credentials (default: the namespace's name).")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the GitRepository looks for new commits.")
	fl.StringVar(&f.authorName, "author-name", "gotk", "Author of the commits bootstrap makes.")
	fl.StringVar(&f.authorEmail, "author-email", "gotk@localhost", "E-mail of the author of the commits bootstrap makes.")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "How long each wait may take: for the controllers, and for the first sync.")
	bindInstallFlags(cmd, &f.install)
	return cmd
}

// bootstrapPlan is what bootstrap writes to Git and to the cluster.
type bootstrapPlan struct {
	namespace string
	// dir is the slash-separated directory of the generated files.
	dir        string
	manifests  *install.Manifests
	secret     *gitSecret
	auth       *git.Auth
	source     *sourcev1.GitRepository
	sync       *kustomizev1.Kustomization
	components []byte
	syncYAML   []byte
}

// check checks the flags that need nothing but themselves, and returns
// the parsed URL and the directory of the generated files.
func (f *bootstrapFlags) check(namespace string) (*url.URL, string, error) {
	if f.url == "" {
		return nil, "", errors.New("--url is required: the Git repository to bootstrap, such as ssh://git@github.com/org/fleet")
	}
	u, err := url.Parse(f.url)
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("--url %q is not a URL with a host, such as ssh://git@github.com/org/fleet", f.url)
	}
	if _, set := u.User.Password(); set {
		return nil, "", errors.New("--url must not carry a password: use --username and --password")
	}
	dir, err := bootstrapDir(f.path, namespace)
	if err != nil {
		return nil, "", err
	}
	if f.interval <= 0 {
		return nil, "", errors.New("--interval must be positive, such as 1m")
	}
	if f.timeout <= 0 {
		return nil, "", errors.New("--timeout must be positive, such as 5m")
	}
	return u, dir, nil
}

// secretNameOr is --secret-name, or the namespace's name.
func (f *bootstrapFlags) secretNameOr(namespace string) string {
	if f.secretName != "" {
		return f.secretName
	}
	return namespace
}

// plan builds everything bootstrap writes into dir (from check), before
// it touches Git or the cluster. existing is the SSH key the cluster's Secret holds already, if
// any: without --private-key-file it is used again, so that a second
// bootstrap keeps the deploy key the repository knows.
func (f *bootstrapFlags) plan(ctx context.Context, namespace, dir string, u *url.URL, existing []byte) (*bootstrapPlan, error) {
	p := &bootstrapPlan{namespace: namespace, dir: dir}
	f.install.Namespace = namespace
	var err error
	if p.manifests, err = install.Generate(f.install); err != nil {
		return nil, err
	}
	if p.components, err = p.manifests.YAML(); err != nil {
		return nil, err
	}
	secretName := f.secretNameOr(namespace)
	if err := validateName("Secret", secretName); err != nil {
		return nil, fmt.Errorf("--secret-name: %w", err)
	}
	hasCredentials := f.username != "" || f.password != "" || f.bearerToken != "" || f.privateKeyFile != "" || f.caFile != ""
	if hasCredentials || u.Scheme == "ssh" {
		sf := &secretGitFlags{url: f.url, username: f.username, password: f.password, bearerToken: f.bearerToken,
			privateKeyFile: f.privateKeyFile, caFile: f.caFile, timeout: 30 * time.Second, identity: existing}
		if p.secret, err = buildGitSecret(ctx, sf, secretName, namespace); err != nil {
			return nil, err
		}
		if p.auth, err = git.AuthFromSecret(p.secret.secret.Data); err != nil {
			return nil, err
		}
	}
	p.source = &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: namespace, Namespace: namespace},
		Spec: sourcev1.GitRepositorySpec{
			URL:       f.url,
			Interval:  metav1.Duration{Duration: f.interval},
			Reference: &sourcev1.GitRepositoryRef{Branch: f.branch},
		},
	}
	if p.secret != nil {
		p.source.Spec.SecretRef = &meta.LocalObjectReference{Name: secretName}
	}
	syncPath := "./" + strings.TrimPrefix(path.Clean(f.path), ".")
	syncPath = strings.TrimSuffix(syncPath, "/")
	if syncPath == "." {
		syncPath = "./"
	}
	p.sync = &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: namespace, Namespace: namespace},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: namespace},
			Path:      syncPath,
			Prune:     true,
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	var buf bytes.Buffer
	buf.WriteString(generatedHeader)
	if err := printTypedYAML(&buf, p.source); err != nil {
		return nil, err
	}
	if err := printTypedYAML(&buf, p.sync); err != nil {
		return nil, err
	}
	p.syncYAML = buf.Bytes()
	return p, nil
}

// bootstrapDir checks --path and returns the directory of the generated
// files: <path>/<namespace>, slash-separated, relative to the repository.
func bootstrapDir(p, namespace string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(strings.TrimSpace(p), "./"))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(p, "\\") {
		return "", fmt.Errorf("--path %q must be a directory inside the repository, such as clusters/prod", p)
	}
	if clean == "." {
		return namespace, nil
	}
	return clean + "/" + namespace, nil
}

// files returns what to commit. kustomization.yaml is only written when
// the repository has none, so that a user's patches survive.
func (p *bootstrapPlan) files(b *git.Branch) (map[string][]byte, error) {
	files := map[string][]byte{
		p.dir + "/" + componentsFile: append([]byte(generatedHeader), p.components...),
		p.dir + "/" + syncFile:       p.syncYAML,
	}
	name := p.dir + "/" + kustomizationFile
	_, exists, err := b.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if !exists {
		files[name] = []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + componentsFile + "\n- " + syncFile + "\n")
	}
	return files, nil
}

func runBootstrapGit(cmd *cobra.Command, c *cli, f *bootstrapFlags) error {
	ctx := cmd.Context()
	p := c.status
	namespace := c.namespace()
	u, dir, err := f.check(namespace)
	if err != nil {
		return err
	}
	// The cluster must be reachable before anything is pushed.
	cl, info, err := c.connect()
	if err != nil {
		return err
	}
	if _, err := checkServerVersion(info); err != nil {
		return err
	}
	var existing []byte
	if u.Scheme == "ssh" && f.privateKeyFile == "" {
		if existing, err = secretIdentity(ctx, cl, namespace, f.secretNameOr(namespace)); err != nil {
			return err
		}
	}
	plan, err := f.plan(ctx, namespace, dir, u, existing)
	if err != nil {
		return err
	}
	if plan.secret != nil && plan.secret.hostKey != "" {
		p.ok("scanned the host key of %s", plan.secret.hostKey)
	}
	if len(existing) > 0 {
		p.ok("using the SSH key of Secret %s/%s again", namespace, plan.secret.secret.Name)
	}
	if plan.secret != nil && plan.secret.deployKey != "" {
		p.step("generated an SSH key for the cluster; add it to the repository as a deploy key with write access:\n%s", plan.secret.deployKey)
		if !f.silent {
			ok, err := confirm(c, "Has the key been added, with write access?")
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("cancelled: nothing was pushed or installed; run bootstrap again and answer y once the key is added, or pass --private-key-file")
			}
		}
	}

	revision, err := pushManifests(ctx, c, f, plan)
	if err != nil {
		return err
	}
	if err := runInstall(cmd, c, plan.manifests, f.timeout); err != nil {
		return err
	}
	if plan.secret != nil {
		created, err := applyTyped(ctx, cl, plan.secret.secret)
		if err != nil {
			return err
		}
		p.ok("Secret %s/%s %s with keys %s", plan.namespace, plan.secret.secret.Name, createdOrConfigured(created), strings.Join(sortedKeys(plan.secret.secret.Data), ", "))
	}
	for _, obj := range []client.Object{plan.source, plan.sync} {
		created, err := applyTyped(ctx, cl, obj)
		if err != nil {
			return err
		}
		p.ok("%s %s/%s %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), createdOrConfigured(created))
	}
	key := types.NamespacedName{Namespace: plan.namespace, Name: plan.namespace}
	if _, err := c.reconcileAndWait(ctx, cl, gitRepositoryKind, key, f.timeout); err != nil {
		return bootstrapSyncError(err, plan)
	}
	ks, err := c.reconcileAndWait(ctx, cl, kustomizationKind, key, f.timeout)
	if err != nil {
		return bootstrapSyncError(err, plan)
	}
	if applied := kustomizationKind.Revision(ks); applied != revision {
		return fmt.Errorf("Kustomization %s applied revision %s, not the pushed %s: has the branch moved? run bootstrap again", key, applied, revision)
	}
	p.ok("bootstrap finished: the cluster syncs %s (branch %s, path %s)", git.RedactURL(f.url), f.branch, plan.sync.Spec.Path)
	return nil
}

// secretIdentity returns the SSH private key that the Secret holds, or
// nil when there is no such Secret or key.
func secretIdentity(ctx context.Context, cl client.Client, namespace, name string) ([]byte, error) {
	secret := &corev1.Secret{}
	err := cl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Secret %s/%s for its SSH key: %w", namespace, name, err)
	}
	return secret.Data[git.IdentityKey], nil
}

// pushManifests commits the generated files when they changed, pushes,
// and returns the branch's revision.
func pushManifests(ctx context.Context, c *cli, f *bootstrapFlags, plan *bootstrapPlan) (string, error) {
	p := c.status
	work, err := os.MkdirTemp("", "gotk-bootstrap-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	p.step("cloning branch %s of %s", f.branch, git.RedactURL(f.url))
	b, err := git.OpenBranch(ctx, f.url, work, f.branch, plan.auth)
	if err != nil {
		return "", fmt.Errorf("bootstrap needs read and write access to the repository: %w", err)
	}
	defer b.Close()
	if b.New {
		p.ok("branch %s does not exist yet: it starts with the gotk manifests", f.branch)
	} else {
		p.ok("cloned %s", b.Revision())
	}
	files, err := plan.files(b)
	if err != nil {
		return "", err
	}
	verb := "Update"
	if b.New {
		verb = "Add"
	} else if _, ok, _ := b.ReadFile(plan.dir + "/" + componentsFile); !ok {
		verb = "Add"
	}
	msg := fmt.Sprintf("%s gotk %s manifests in %s", verb, plan.manifests.Options.Version, plan.dir)
	changed, err := b.Commit(files, msg, git.Signature{Name: f.authorName, Email: f.authorEmail})
	if err != nil {
		return "", err
	}
	if !changed {
		p.ok("the repository already holds these manifests in %s: nothing to commit", plan.dir)
		return b.Revision(), nil
	}
	p.ok("committed %q", msg)
	if err := b.Push(ctx); err != nil {
		return "", err
	}
	p.ok("pushed %s", b.Revision())
	return b.Revision(), nil
}

// bootstrapSyncError adds where to look when the first sync fails.
func bootstrapSyncError(err error, plan *bootstrapPlan) error {
	return fmt.Errorf("%w\nthe manifests are in Git and the controllers are installed; see gotk get all -n %s and gotk logs -n %s, fix the cause and run bootstrap again",
		err, plan.namespace, plan.namespace)
}
