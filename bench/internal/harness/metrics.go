package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// Scrape reads a Prometheus text endpoint into "name{labels}" -> value.
func Scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseMetrics(bufio.NewScanner(resp.Body))
}

// APIServerRequests reads kube-apiserver's apiserver_request_total.
func APIServerRequests(cfg *rest.Config) (map[string]float64, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	all, err := parseMetrics(bufio.NewScanner(resp.Body))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, "apiserver_request_total{") {
			out[k] = v
		}
	}
	return out, nil
}

func parseMetrics(s *bufio.Scanner) (map[string]float64, error) {
	s.Buffer(make([]byte, 1<<20), 1<<24)
	out := map[string]float64{}
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, s.Err()
}

// Delta returns the series that changed between two scrapes, by how
// much.
func Delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// ByLabel sums the deltas of metric by one label's value.
func ByLabel(d map[string]float64, metric, label string) string {
	sums := map[string]float64{}
	for k, v := range d {
		if strings.HasPrefix(k, metric+"{") {
			sums[LabelValue(k, label)] += v
		}
	}
	return FormatCounts(sums)
}

// APIByVerb sums apiserver_request_total deltas by verb and resource,
// marking dry runs.
func APIByVerb(d map[string]float64) string {
	sums := map[string]float64{}
	for k, v := range d {
		key := LabelValue(k, "verb") + " " + LabelValue(k, "resource")
		if sub := LabelValue(k, "subresource"); sub != "" {
			key += "/" + sub
		}
		if LabelValue(k, "dry_run") != "" {
			key += " (dry-run)"
		}
		sums[key] += v
	}
	return FormatCounts(sums)
}

// LabelValue returns the value of label in a "name{labels}" series.
func LabelValue(series, label string) string {
	i := strings.Index(series, label+`="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(label)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

// FormatCounts prints counts as "key=value, ..." in key order.
func FormatCounts(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// APIServerProfile starts a CPU profile of kube-apiserver (its
// /debug/pprof/profile) of the given length into path, and returns a
// function that waits for it; nothing when path is empty.
func APIServerProfile(cfg *rest.Config, path string, seconds int) func() error {
	if path == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			done <- err
			return
		}
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), seconds)
		resp, err := hc.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("kube-apiserver profile: %s", resp.Status)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() error { return <-done }
}
