package helm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// MaxChartSize caps the download of a chart archive. What the archive
// unpacks to is capped by the Helm SDK's loader.
const MaxChartSize int64 = 64 << 20

// InvalidRangeError is a spec.version that is not a SemVer range.
type InvalidRangeError struct {
	Range string
	Err   error
}

func (e *InvalidRangeError) Error() string {
	return fmt.Sprintf("spec.version %q is not a SemVer range: %s", e.Range, e.Err)
}

// ChartNotFoundError is a chart name the repository does not list.
type ChartNotFoundError struct {
	Chart string
	// Where names the repository when it is not its index.
	Where string
}

func (e *ChartNotFoundError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("chart '%s' is not in %s", e.Chart, e.Where)
	}
	return fmt.Sprintf("chart '%s' is not in the repository index", e.Chart)
}

// NoVersionError is a range that no version of the chart satisfies.
type NoVersionError struct {
	Chart, Range string
	// Latest is the newest version in the index, for the message.
	Latest string
}

func (e *NoVersionError) Error() string {
	msg := fmt.Sprintf("no version of chart '%s' matches spec.version %q", e.Chart, e.Range)
	if e.Latest != "" {
		msg += fmt.Sprintf(" (the newest is %s)", e.Latest)
	}
	return msg
}

// IndexEntry is what a chart lookup needs of one version in an index.
type IndexEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest,omitempty"`
}

// selectBest returns the position of the newest of versions that the
// SemVer range allows ("" means "*"). Pre-releases match only when the
// range names one, as in Masterminds/semver. Versions that are not SemVer
// are skipped.
func selectBest(name string, versions []string, constraint string) (int, error) {
	if strings.TrimSpace(constraint) == "" {
		constraint = "*"
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return -1, &InvalidRangeError{Range: constraint, Err: err}
	}
	if len(versions) == 0 {
		return -1, &ChartNotFoundError{Chart: name}
	}
	best := -1
	var bestV, latest *semver.Version
	for i, s := range versions {
		v, err := semver.NewVersion(s)
		if err != nil {
			continue
		}
		if latest == nil || v.GreaterThan(latest) {
			latest = v
		}
		if c.Check(v) && (bestV == nil || v.GreaterThan(bestV)) {
			best, bestV = i, v
		}
	}
	if best < 0 {
		e := &NoVersionError{Chart: name, Range: constraint}
		if latest != nil {
			e.Latest = latest.Original()
		}
		return -1, e
	}
	return best, nil
}

// SelectFrom returns the newest of versions (such as an OCI
// repository's tags) that the SemVer range allows.
func SelectFrom(name string, versions []string, constraint string) (string, error) {
	i, err := selectBest(name, versions, constraint)
	if err != nil {
		return "", err
	}
	return versions[i], nil
}

// SelectEntry returns the newest of a chart's index entries that the
// SemVer range allows.
func SelectEntry(name string, entries []IndexEntry, constraint string) (*IndexEntry, error) {
	versions := make([]string, len(entries))
	for i, e := range entries {
		versions[i] = e.Version
	}
	i, err := selectBest(name, versions, constraint)
	if err != nil {
		return nil, err
	}
	return &entries[i], nil
}

// SelectVersion returns the newest version of the chart name in a loaded
// index that the SemVer range allows.
func SelectVersion(idx *repo.IndexFile, name, constraint string) (*repo.ChartVersion, error) {
	var versions []string
	var cvs []*repo.ChartVersion
	for _, cv := range idx.Entries[name] {
		if cv == nil || cv.Metadata == nil {
			continue
		}
		versions = append(versions, cv.Version)
		cvs = append(cvs, cv)
	}
	i, err := selectBest(name, versions, constraint)
	if err != nil {
		return nil, err
	}
	return cvs[i], nil
}

// ChartURL returns where to download e: its first URL, resolved against
// the repository URL when relative.
func ChartURL(repoURL string, e *IndexEntry) (string, error) {
	if len(e.URLs) == 0 {
		return "", fmt.Errorf("chart '%s' version %s has no URL in the index", e.Name, e.Version)
	}
	u, err := repo.ResolveReferenceURL(repoURL, e.URLs[0])
	if err != nil {
		return "", fmt.Errorf("chart '%s' version %s: URL %q: %w", e.Name, e.Version, e.URLs[0], err)
	}
	return u, nil
}

// DownloadChart downloads the archive of e into file and checks it
// against the digest the index gives, when it gives one. Credentials go
// with the request as Options.authorize allows for repoURL.
func DownloadChart(ctx context.Context, repoURL string, e *IndexEntry, o Options, file string) error {
	u, err := ChartURL(repoURL, e)
	if err != nil {
		return err
	}
	base, err := url.Parse(repoURL)
	if err != nil {
		return err
	}
	if err := download(ctx, u, base, o, MaxChartSize, file); err != nil {
		return err
	}
	if e.Digest == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.TrimPrefix(e.Digest, "sha256:") {
		return fmt.Errorf("chart '%s' version %s from %s: sha256 %s, the index says %s", e.Name, e.Version, u, got, e.Digest)
	}
	return nil
}

// InvalidChartError is an archive the Helm SDK refuses to load.
type InvalidChartError struct {
	Source string
	Err    error
}

func (e *InvalidChartError) Error() string {
	return fmt.Sprintf("%s is not a valid chart: %s", e.Source, e.Err)
}

func (e *InvalidChartError) Unwrap() error { return e.Err }

// LoadChart loads a chart archive with the Helm SDK, which refuses paths
// that leave the chart and archives over its decompressed size cap.
func LoadChart(file, source string) (*chart.Chart, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ch, err := loader.LoadArchive(f)
	if err != nil {
		return nil, &InvalidChartError{Source: source, Err: err}
	}
	if err := ch.Validate(); err != nil {
		return nil, &InvalidChartError{Source: source, Err: err}
	}
	return ch, nil
}

// MissingValuesFileError is a values file that is not in the chart.
type MissingValuesFileError struct {
	Chart, File string
}

func (e *MissingValuesFileError) Error() string {
	return fmt.Sprintf("spec.valuesFiles: %q is not in chart '%s' (set spec.ignoreMissingValuesFiles to skip it)", e.File, e.Chart)
}

// MergeValuesFiles merges the chart's files at paths (relative to the
// chart root), in order, later files winning, as Flux does: the chart's
// own values.yaml counts only when listed. It returns the merged values
// and the paths that were found; a missing path is an error unless
// ignoreMissing.
func MergeValuesFiles(ch *chart.Chart, paths []string, ignoreMissing bool) (map[string]any, []string, error) {
	files := map[string][]byte{}
	for _, f := range ch.Raw {
		files[f.Name] = f.Data
	}
	for _, f := range ch.Files {
		files[f.Name] = f.Data
	}
	merged := map[string]any{}
	var found []string
	for _, p := range paths {
		clean := path.Clean(strings.TrimPrefix(p, "./"))
		data, ok := files[clean]
		if !ok {
			if ignoreMissing {
				continue
			}
			return nil, nil, &MissingValuesFileError{Chart: ch.Name(), File: p}
		}
		values := map[string]any{}
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, nil, fmt.Errorf("spec.valuesFiles: %q in chart '%s' is not YAML: %w", p, ch.Name(), err)
		}
		merged = MergeValues(merged, values)
		found = append(found, p)
	}
	return merged, found, nil
}

// MergeValues merges b into a, recursing into maps; b wins.
func MergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Repackage replaces the chart's values.yaml with values, sets its
// version, and saves it into dir with the Helm SDK. It returns the
// archive's path.
func Repackage(ch *chart.Chart, values map[string]any, version, dir string) (string, error) {
	data, err := yaml.Marshal(values)
	if err != nil {
		return "", err
	}
	replaced := false
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			f.Data = data
			replaced = true
		}
	}
	if !replaced {
		ch.Raw = append(ch.Raw, &common.File{Name: chartutil.ValuesfileName, Data: data})
	}
	ch.Values = values
	ch.Metadata.Version = version
	return chartutil.Save(ch, dir)
}
