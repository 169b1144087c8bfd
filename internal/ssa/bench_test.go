package ssa

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const benchObjects = 5000

func benchConfigMaps(ns string) []*unstructured.Unstructured {
	objs := make([]*unstructured.Unstructured, benchObjects)
	for i := range objs {
		objs[i] = configMap(ns, fmt.Sprintf("cm-%05d", i), nil, map[string]string{"index": fmt.Sprint(i), "payload": "some configuration value"})
	}
	return objs
}

// BenchmarkApply5000ConfigMaps applies 5,000 ConfigMaps: into an empty
// namespace (cold), again with the cache warm (unchanged: the steady state
// of a reconcile with nothing to do), and again with an empty cache (as
// after a controller restart: reads and dry-runs, no writes). It reports
// the requests sent per apply.
func BenchmarkApply5000ConfigMaps(b *testing.B) {
	ctx := context.Background()
	report := func(b *testing.B, counter *requestCounter) {
		b.ReportMetric(float64(counter.writes()-counter.dryRuns())/float64(b.N), "writes/op")
		b.ReportMetric(float64(counter.dryRuns())/float64(b.N), "dryruns/op")
		b.ReportMetric(float64(counter.total())/float64(b.N), "requests/op")
		b.Logf("requests over %d applies: %s", b.N, counter)
	}
	b.Run("cold", func(b *testing.B) {
		m, counter := newManager(b)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			objs := benchConfigMaps(env.Namespace(b))
			counter.reset()
			b.StartTimer()
			cs, err := m.Apply(ctx, objs, ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if n := cs.Counts()[ActionCreated]; n != benchObjects {
				b.Fatalf("created %d", n)
			}
		}
		report(b, counter)
	})
	b.Run("unchanged", func(b *testing.B) {
		m, counter := newManager(b)
		objs := benchConfigMaps(env.Namespace(b))
		if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		counter.reset()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cs, err := m.Apply(ctx, objs, ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if n := cs.Counts()[ActionUnchanged]; n != benchObjects {
				b.Fatalf("unchanged %d", n)
			}
		}
		b.StopTimer()
		report(b, counter)
	})
	b.Run("restart", func(b *testing.B) {
		m, counter := newManager(b)
		objs := benchConfigMaps(env.Namespace(b))
		if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		counter.reset()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m.Cache = NewCache()
			cs, err := m.Apply(ctx, objs, ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if n := cs.Counts()[ActionUnchanged]; n != benchObjects {
				b.Fatalf("unchanged %d", n)
			}
		}
		b.StopTimer()
		report(b, counter)
	})
}
