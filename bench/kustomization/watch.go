package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// readyResult is when the last of the Kustomizations became Ready.
type readyResult struct {
	at    time.Time
	ready int
	err   error
}

// watchAllReady watches the Kustomizations of ns until want of them are
// Ready at revision, and sends the time the last one was seen Ready. It
// watches rather than polls: listing a thousand Kustomizations every
// second cost the API server about 5% of its CPU, and the bench process
// as much again, on the two cores that the measured work runs on.
func watchAllReady(ctx context.Context, cl client.WithWatch, ns string, want int, revision string) <-chan readyResult {
	return watchAll(ctx, cl, ns, want, func(k *kustomizev1.Kustomization) bool {
		return runtime.IsReady(k) && (revision == "" || k.Status.LastAppliedRevision == revision)
	})
}

// watchAll watches the Kustomizations of ns until want of them satisfy
// done, and sends the time the last one was seen to.
func watchAll(ctx context.Context, cl client.WithWatch, ns string, want int, done func(*kustomizev1.Kustomization) bool) <-chan readyResult {
	out := make(chan readyResult, 1)
	go func() {
		ready := map[string]bool{}
		count := func() int {
			n := 0
			for _, ok := range ready {
				if ok {
					n++
				}
			}
			return n
		}
		observe := func(k *kustomizev1.Kustomization) {
			ready[k.Name] = done(k)
		}
		for {
			list := &kustomizev1.KustomizationList{}
			if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
				out <- readyResult{ready: count(), err: fmt.Errorf("list Kustomizations: %w", err)}
				return
			}
			for i := range list.Items {
				observe(&list.Items[i])
			}
			if count() >= want {
				out <- readyResult{at: time.Now(), ready: count()}
				return
			}
			w, err := cl.Watch(ctx, &kustomizev1.KustomizationList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
			if err != nil {
				out <- readyResult{ready: count(), err: fmt.Errorf("watch Kustomizations: %w", err)}
				return
			}
			for ev := range w.ResultChan() {
				k, ok := ev.Object.(*kustomizev1.Kustomization)
				if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
					continue
				}
				observe(k)
				if count() >= want {
					w.Stop()
					out <- readyResult{at: time.Now(), ready: count()}
					return
				}
			}
			w.Stop()
			if ctx.Err() != nil {
				out <- readyResult{ready: count(), err: fmt.Errorf("%d of %d Ready: %w", count(), want, ctx.Err())}
				return
			}
			// The watch ended (a timeout of the API server): list again.
		}
	}()
	return out
}
