package main

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// watchChanges calls onChange for each object of list's kind that is
// added or modified (and deleted, with deletes) after resourceVersion,
// until ctx ends. A watch that the server closes starts again from the
// last version seen (bookmarks included); one whose version expired
// starts again from the current state, read with a List, so that nothing
// already shown is shown twice.
func watchChanges(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts []client.ListOption,
	resourceVersion string, deletes bool, onChange func(client.Object) error) error {
	for {
		raw := &metav1.ListOptions{ResourceVersion: resourceVersion, AllowWatchBookmarks: true}
		w, err := cl.Watch(ctx, list, append([]client.ListOption{&client.ListOptions{Raw: raw}}, opts...)...)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rv, expired, err := drainWatch(ctx, w, deletes, onChange)
		w.Stop()
		if err != nil || ctx.Err() != nil {
			return err
		}
		switch {
		case expired:
			if err := cl.List(ctx, list, opts...); err != nil {
				return fmt.Errorf("read the current state after the watch expired: %w", err)
			}
			resourceVersion = list.GetResourceVersion()
		case rv != "":
			resourceVersion = rv
		}
	}
}

// drainWatch passes the watch's objects to onChange until the watch or
// ctx ends, and returns the last resourceVersion seen, or expired when
// the server said that the watch's version is too old.
func drainWatch(ctx context.Context, w watch.Interface, deletes bool, onChange func(client.Object) error) (rv string, expired bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return rv, false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, false, nil
			}
			if ev.Type == watch.Error {
				return "", true, nil
			}
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			rv = obj.GetResourceVersion()
			if ev.Type == watch.Added || ev.Type == watch.Modified || (deletes && ev.Type == watch.Deleted) {
				if err := onChange(obj); err != nil {
					return rv, false, err
				}
			}
		}
	}
}
