package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/oci"
)

// registryFlags are the flags every artifact command takes to reach a
// registry.
type registryFlags struct {
	creds    string
	insecure bool
}

func (f *registryFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.creds, "creds", "", "Registry credentials, as <username>:<password>.")
	cmd.Flags().BoolVar(&f.insecure, "insecure-registry", false, "Speak plain HTTP to the registry.")
}

// client connects to the repository of url (oci://host/path[:tag]).
func (f *registryFlags) client(url string) (*oci.Client, error) {
	o := oci.Options{Insecure: f.insecure, UserAgent: "gotk"}
	if f.creds != "" {
		u, p, ok := strings.Cut(f.creds, ":")
		if !ok || u == "" {
			return nil, errors.New("--creds: use <username>:<password>")
		}
		o.Username, o.Password = u, p
	}
	return oci.NewClient(url, o)
}

// artifactURL checks an oci://host/path:tag argument, and returns its tag
// and digest (one of which is set).
func artifactURL(cmd *cobra.Command, args []string, needTag bool) (tag, dgst string, err error) {
	if len(args) != 1 {
		return "", "", fmt.Errorf("%s needs one oci://<host>/<path>:<tag> argument", cmd.CommandPath())
	}
	_, tag, dgst, err = oci.SplitURL(args[0])
	if err != nil {
		return "", "", err
	}
	if tag == "" && (needTag || dgst == "") {
		return "", "", fmt.Errorf("%q has no tag: use oci://<host>/<path>:<tag>", args[0])
	}
	return tag, dgst, nil
}

func newPushCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "push",
		Example: `  gotk push artifact oci://ghcr.io/org/manifests/app:v1 --path=./deploy --source=https://github.com/org/app --revision=main@sha1:abc`,
		Short:   "Push artifacts to an OCI registry",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var (
		rf                     registryFlags
		path, source, revision string
		ignorePaths            []string
	)
	push := &cobra.Command{
		Use:   "artifact oci://<host>/<path>:<tag>",
		Short: "Pack a directory as a Flux artifact and push it",
		Long: `Pack the directory --path as a gzip-compressed tar and push it as an OCI
artifact with Flux's media types (config application/vnd.cncf.flux.config.v1+json,
layer application/vnd.cncf.flux.content.v1.tar+gzip), so that OCIRepositories
of gotk and of Flux both pull it.

--source and --revision become the annotations org.opencontainers.image.source
and org.opencontainers.image.revision. The archive is deterministic (sorted
entries, fixed times and owners) and the manifest carries no creation time,
so the same tree with the same annotations always has the same digest, which
is printed.`,
		Example: `  gotk push artifact oci://ghcr.io/org/manifests/app:$(git rev-parse --short HEAD) \
    --path=./deploy --source="$(git config --get remote.origin.url)" \
    --revision="$(git branch --show-current)@sha1:$(git rev-parse HEAD)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tag, _, err := artifactURL(cmd, args, true)
			if err != nil {
				return err
			}
			if path == "" {
				return errors.New("--path is required: the directory to push")
			}
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				return fmt.Errorf("--path %q is not a directory", path)
			}
			cl, err := rf.client(args[0])
			if err != nil {
				return err
			}
			var spec *string
			if ignore := ignoreLines(ignorePaths); ignore != "" {
				spec = &ignore
			}
			filter, err := artifact.IgnoreFilter(path, spec)
			if err != nil {
				return err
			}
			ann := map[string]string{}
			if source != "" {
				ann[oci.SourceAnnotation] = source
			}
			if revision != "" {
				ann[oci.RevisionAnnotation] = revision
			}
			c.status.step("pushing %s to %s", path, args[0])
			res, err := cl.PushDir(cmd.Context(), path, filter, ann, tag)
			if err != nil {
				return err
			}
			c.status.ok("artifact pushed (layer %d bytes)", res.Layer.Size)
			fmt.Fprintf(c.out, "%s%s@%s\n", oci.Prefix, cl.Name(), res.Manifest.Digest)
			return nil
		},
	}
	rf.bind(push)
	push.Flags().StringVar(&path, "path", "", "Directory to push.")
	push.Flags().StringVar(&source, "source", "", "Where the files come from (org.opencontainers.image.source), such as the Git URL.")
	push.Flags().StringVar(&revision, "revision", "", "Their revision (org.opencontainers.image.revision), such as main@sha1:<commit>.")
	push.Flags().StringSliceVar(&ignorePaths, "ignore-paths", nil, "Paths to leave out, in .gitignore syntax (comma-separated); .sourceignore files apply too.")
	cmd.AddCommand(push)
	return cmd
}

func newPullCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pull",
		Example: `  gotk pull artifact oci://ghcr.io/org/manifests/app:v1 --output=./app`,
		Short:   "Pull artifacts from an OCI registry",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var (
		rf        registryFlags
		output    string
		mediaType string
	)
	pull := &cobra.Command{
		Use:   "artifact oci://<host>/<path>:<tag>",
		Short: "Pull an artifact and unpack it into a directory",
		Long: `Pull the artifact a tag (or @sha256:<digest>) names and unpack its first layer
(or the one of --layer-media-type) into --output, refusing entries that
would land outside it, as the source controller does.`,
		Example: `  gotk pull artifact oci://ghcr.io/org/manifests/app:v1 --output=./app`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tag, dgst, err := artifactURL(cmd, args, false)
			if err != nil {
				return err
			}
			if output == "" {
				return errors.New("--output is required: the directory to unpack into")
			}
			cl, err := rf.client(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			tag, desc, err := cl.Resolve(ctx, oci.Reference{Tag: tag, Digest: dgst})
			if err != nil {
				return err
			}
			m, err := cl.Manifest(ctx, desc)
			if err != nil {
				return err
			}
			layer, err := oci.SelectLayer(m, mediaType)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			tmp, err := os.CreateTemp("", "gotk-pull-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			if err := cl.FetchLayer(ctx, layer, artifact.DefaultMaxSize, tmp); err != nil {
				return err
			}
			if _, err := tmp.Seek(0, 0); err != nil {
				return err
			}
			stats, err := artifact.Extract(tmp, output, artifact.Limits{})
			if err != nil {
				return err
			}
			c.status.ok("pulled %s (%d files, %d bytes) into %s", oci.Revision(tag, desc.Digest), stats.Files, stats.Bytes, filepath.Clean(output))
			if src := m.Annotations[oci.SourceAnnotation]; src != "" {
				c.status.ok("source %s, revision %s", src, m.Annotations[oci.RevisionAnnotation])
			}
			return nil
		},
	}
	rf.bind(pull)
	pull.Flags().StringVarP(&output, "output", "o", "", "Directory to unpack into.")
	pull.Flags().StringVar(&mediaType, "layer-media-type", "", "Media type of the layer to unpack (default: the first layer).")
	cmd.AddCommand(pull)
	return cmd
}

func newTagCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tag",
		Example: `  gotk tag artifact oci://ghcr.io/org/manifests/app:v1 --tag=latest`,
		Short:   "Tag artifacts in an OCI registry",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var (
		rf   registryFlags
		tags []string
	)
	tag := &cobra.Command{
		Use:     "artifact oci://<host>/<path>:<tag>",
		Short:   "Give an artifact more tags",
		Example: `  gotk tag artifact oci://ghcr.io/org/manifests/app:v1.2.0 --tag=latest --tag=v1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, dgst, err := artifactURL(cmd, args, false)
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				return errors.New("--tag is required: the new tag")
			}
			cl, err := rf.client(args[0])
			if err != nil {
				return err
			}
			for _, t := range tags {
				desc, err := cl.Tag(cmd.Context(), oci.Reference{Tag: from, Digest: dgst}, t)
				if err != nil {
					return err
				}
				c.status.ok("tagged %s%s:%s (%s)", oci.Prefix, cl.Name(), t, desc.Digest)
			}
			return nil
		},
	}
	rf.bind(tag)
	tag.Flags().StringSliceVar(&tags, "tag", nil, "New tag (repeat the flag for more).")
	cmd.AddCommand(tag)
	return cmd
}

func newListCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Example: `  gotk list artifacts oci://ghcr.io/org/manifests/app`,
		Short:   "List artifacts in an OCI registry",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var (
		rf           registryFlags
		filterRegex  string
		filterSemver string
	)
	list := &cobra.Command{
		Use:     "artifacts oci://<host>/<path>",
		Short:   "List the tags of a repository with their digests and origin",
		Example: `  gotk list artifacts oci://ghcr.io/org/manifests/app --filter-semver=">=1.0.0"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%s needs one oci://<host>/<path> argument", cmd.CommandPath())
			}
			cl, err := rf.client(args[0])
			if err != nil {
				return err
			}
			var re *regexp.Regexp
			if filterRegex != "" {
				if re, err = regexp.Compile(filterRegex); err != nil {
					return fmt.Errorf("--filter-regex: %w", err)
				}
			}
			var con *semver.Constraints
			if filterSemver != "" {
				if con, err = semver.NewConstraint(filterSemver); err != nil {
					return fmt.Errorf("--filter-semver: %w", err)
				}
			}
			ctx := cmd.Context()
			tags, err := cl.Tags(ctx)
			if err != nil {
				return err
			}
			sort.Strings(tags)
			tw := newTable(c.out)
			tw.row("ARTIFACT", "DIGEST", "SOURCE", "REVISION")
			for _, t := range tags {
				if re != nil && !re.MatchString(t) {
					continue
				}
				if con != nil {
					v, err := semver.NewVersion(t)
					if err != nil || !con.Check(v) {
						continue
					}
				}
				_, desc, err := cl.Resolve(ctx, oci.Reference{Tag: t})
				if err != nil {
					return err
				}
				src, rev := "", ""
				if m, err := cl.Manifest(ctx, desc); err == nil {
					src, rev = m.Annotations[oci.SourceAnnotation], m.Annotations[oci.RevisionAnnotation]
				}
				tw.row(oci.Prefix+cl.Name()+":"+t, desc.Digest.String(), src, rev)
			}
			return tw.flush()
		},
	}
	rf.bind(list)
	list.Flags().StringVar(&filterRegex, "filter-regex", "", "Only the tags this regular expression matches.")
	list.Flags().StringVar(&filterSemver, "filter-semver", "", "Only the tags that are versions within this semver range.")
	cmd.AddCommand(list)
	return cmd
}

// localFilter is the ignore filter of a directory to pack: its
// .sourceignore files and --ignore-paths.
func localFilter(path string, ignorePaths []string) (artifact.Filter, error) {
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--path %q is not a directory", path)
	}
	var spec *string
	if ignore := ignoreLines(ignorePaths); ignore != "" {
		spec = &ignore
	}
	return artifact.IgnoreFilter(path, spec)
}

func newBuildArtifactCmd(c *cli) *cobra.Command {
	var (
		path, output string
		ignorePaths  []string
	)
	cmd := &cobra.Command{
		Use:   "artifact",
		Short: "Pack a directory as push artifact would, into a local tar.gz",
		Long: `Pack --path into --output exactly as gotk push artifact packs its layer
(deterministic: the same tree always gives the same bytes), and print the
layer digest.`,
		Example: `  gotk build artifact --path=./deploy --output=app.tar.gz`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" || output == "" {
				return errors.New("--path and --output are required")
			}
			filter, err := localFilter(path, ignorePaths)
			if err != nil {
				return err
			}
			f, err := os.Create(output)
			if err != nil {
				return err
			}
			h := sha256.New()
			if err := artifact.Archive(path, io.MultiWriter(f, h), filter); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(c.out, "sha256:%x\n", h.Sum(nil))
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "Directory to pack.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "File to write the tar.gz to.")
	cmd.Flags().StringSliceVar(&ignorePaths, "ignore-paths", nil, "Paths to leave out, in .gitignore syntax (comma-separated).")
	return cmd
}

func newDiffArtifactCmd(c *cli) *cobra.Command {
	var (
		rf          registryFlags
		path        string
		ignorePaths []string
	)
	cmd := &cobra.Command{
		Use:   "artifact oci://<host>/<path>:<tag>",
		Short: "Tell whether a directory differs from a pushed artifact",
		Long: `Pack --path as gotk push artifact would and compare the layer digest with the
first layer of the artifact the tag names. Exit code: 0 when they are the
same, 1 when they differ, 2 when the comparison could not be made.`,
		Example: `  gotk diff artifact oci://ghcr.io/org/manifests/app:v1 --path=./deploy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tag, dgst, err := artifactURL(cmd, args, false)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if path == "" {
				return &exitError{code: 2, err: errors.New("--path is required")}
			}
			filter, err := localFilter(path, ignorePaths)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			h := sha256.New()
			if err := artifact.Archive(path, h, filter); err != nil {
				return &exitError{code: 2, err: err}
			}
			local := fmt.Sprintf("sha256:%x", h.Sum(nil))
			cl, err := rf.client(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			_, desc, err := cl.Resolve(cmd.Context(), oci.Reference{Tag: tag, Digest: dgst})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			m, err := cl.Manifest(cmd.Context(), desc)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			layer, err := oci.SelectLayer(m, "")
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("%s: %w", args[0], err)}
			}
			if layer.Digest.String() == local {
				c.status.ok("no changes: %s holds %s", args[0], local)
				return nil
			}
			fmt.Fprintf(c.out, "► %s differs: layer %s, local %s\n", args[0], layer.Digest, local)
			return &exitError{code: 1}
		},
	}
	rf.bind(cmd)
	cmd.Flags().StringVar(&path, "path", "", "Directory to compare.")
	cmd.Flags().StringSliceVar(&ignorePaths, "ignore-paths", nil, "Paths to leave out, in .gitignore syntax (comma-separated).")
	return cmd
}
