package runtime

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions returns the manager's cache settings: every namespace, or
// only namespace without --watch-all-namespaces; and for ConfigMaps and
// Secrets only those matching --watch-configs-label-selector, which feed
// the config watchers. A cluster's Secrets are never all held in memory.
// Cached objects keep no managed fields.
func (o Options) CacheOptions(namespace string) (cache.Options, error) {
	// No controller reads the managed fields of a cached object; they are
	// a good part of each one's size.
	c := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if !o.WatchAllNamespaces {
		c.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	if o.DisableConfigWatchers {
		return c, nil
	}
	sel, err := o.ConfigSelector()
	if err != nil {
		return c, err
	}
	c.ByObject = map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}: {Label: sel},
		&corev1.Secret{}:    {Label: sel},
	}
	return c, nil
}

// ClientOptions returns the manager's client settings: ConfigMaps and
// Secrets are read from the API server, never from the cache, which holds
// only the labelled ones (see CacheOptions).
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}}}}
}

// ConfigSelector returns the selector of the ConfigMaps and Secrets that
// the config watchers follow: --watch-configs-label-selector, or one that
// matches nothing with --disable-config-watchers.
func (o Options) ConfigSelector() (labels.Selector, error) {
	if o.DisableConfigWatchers {
		return labels.Nothing(), nil
	}
	sel, err := labels.Parse(o.WatchConfigsLabelSelector)
	if err != nil {
		return nil, fmt.Errorf("--watch-configs-label-selector %q: %w", o.WatchConfigsLabelSelector, err)
	}
	return sel, nil
}
