package notification

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/controller/alert"
	"github.com/gotk-dev/gotk/internal/controller/provider"
	"github.com/gotk-dev/gotk/internal/notify"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Event is an event as the controllers post it.
type Event = runtime.Event

// Dispatcher finds the Alerts that select an event and delivers it to
// their Providers.
type Dispatcher struct {
	// Client reads Alerts, Providers and the labels of event sources from
	// the cache.
	Client client.Client
	// APIReader reads the Providers' Secrets.
	APIReader client.Reader
	Settings  provider.Settings
	// NoCrossNamespaceRefs ignores event sources in other namespaces than
	// their Alert's.
	NoCrossNamespaceRefs bool
	Log                  logr.Logger

	// sem bounds the deliveries in flight; a full one makes the event
	// server wait, which slows the senders rather than dropping events.
	sem  chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	regexps sync.Map // string -> *regexp.Regexp
}

// maxDeliveries is how many deliveries run at once.
const maxDeliveries = 64

// delivery is one event going to one Alert's Provider.
type delivery struct {
	alert *notificationv1beta3.Alert
	event Event
}

// Dispatch matches ev against the Alerts and starts a delivery for each
// that selects it, in the background with ctx; it returns how many
// started.
func (d *Dispatcher) Dispatch(ctx context.Context, ev Event) (int, error) {
	matches, err := d.match(ctx, ev)
	if err != nil {
		return 0, err
	}
	d.once.Do(func() { d.sem = make(chan struct{}, maxDeliveries) })
	for _, m := range matches {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		d.wg.Add(1)
		go func(m delivery) {
			defer func() { <-d.sem; d.wg.Done() }()
			d.deliver(ctx, m)
		}(m)
	}
	return len(matches), nil
}

// Wait waits for the deliveries in flight.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// match returns the Alerts that select ev, each with the event as its
// Provider will receive it.
func (d *Dispatcher) match(ctx context.Context, ev Event) ([]delivery, error) {
	o := ev.InvolvedObject
	list := &notificationv1beta3.AlertList{}
	if err := d.Client.List(ctx, list, client.MatchingFields{alert.SourceIndexKey: alert.SourceIndexValue(o.Namespace, o.Kind)}); err != nil {
		return nil, fmt.Errorf("list Alerts: %w", err)
	}
	var objLabels labels.Set
	labelsRead := false
	var out []delivery
	for i := range list.Items {
		a := &list.Items[i]
		if a.Spec.Suspend {
			continue
		}
		if a.GetEventSeverity() == notificationv1beta3.EventSeverityError && ev.Severity != runtime.SeverityError {
			continue
		}
		selected := false
		for _, src := range a.Spec.EventSources {
			ns := src.Namespace
			if ns == "" {
				ns = a.Namespace
			}
			if ns != o.Namespace || src.Kind != o.Kind || !matchName(src.Name, o.Name) {
				continue
			}
			if ns != a.Namespace && d.NoCrossNamespaceRefs {
				d.Log.V(1).Info("event source in another namespace ignored (--no-cross-namespace-refs)",
					"alert", client.ObjectKeyFromObject(a), "namespace", ns)
				continue
			}
			if len(src.MatchLabels) > 0 {
				if !labelsRead {
					objLabels = d.objectLabels(ctx, ev)
					labelsRead = true
				}
				if !labels.SelectorFromSet(src.MatchLabels).Matches(objLabels) {
					continue
				}
			}
			selected = true
			break
		}
		if !selected || !d.messageSelected(a, ev.Message) {
			continue
		}
		out = append(out, delivery{alert: a, event: d.forAlert(a, ev)})
	}
	return out, nil
}

// matchName matches an object name against an event source name, where
// "*" matches any run of characters: "*" alone selects every object.
func matchName(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(rest, p) && len(rest) >= len(p)
		}
		j := strings.Index(rest, p)
		if j < 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}

// objectLabels reads the labels of the event's object; an object that
// cannot be read has none, so label selectors do not match it.
func (d *Dispatcher) objectLabels(ctx context.Context, ev Event) labels.Set {
	o := ev.InvolvedObject
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return nil
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gv.WithKind(o.Kind))
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, m); err != nil {
		d.Log.V(1).Info("cannot read the labels of the event's object", "object", o.Namespace+"/"+o.Name, "kind", o.Kind, "error", err.Error())
		return nil
	}
	return m.GetLabels()
}

// messageSelected applies spec.inclusionList and spec.exclusionList; an
// expression that does not compile selects nothing (the Alert reconciler
// reports it).
func (d *Dispatcher) messageSelected(a *notificationv1beta3.Alert, msg string) bool {
	if len(a.Spec.InclusionList) > 0 {
		included := false
		for _, expr := range a.Spec.InclusionList {
			if re := d.regexp(expr); re != nil && re.MatchString(msg) {
				included = true
				break
			}
		}
		if !included {
			return false
		}
	}
	for _, expr := range a.Spec.ExclusionList {
		re := d.regexp(expr)
		if re == nil || re.MatchString(msg) {
			return false
		}
	}
	return true
}

func (d *Dispatcher) regexp(expr string) *regexp.Regexp {
	if v, ok := d.regexps.Load(expr); ok {
		return v.(*regexp.Regexp)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	d.regexps.Store(expr, re)
	return re
}

// forAlert returns the event with the Alert's eventMetadata and summary
// added; keys the event already has keep their value.
func (d *Dispatcher) forAlert(a *notificationv1beta3.Alert, ev Event) Event {
	md := make(map[string]string, len(ev.Metadata)+len(a.Spec.EventMetadata)+1)
	for k, v := range ev.Metadata {
		md[k] = v
	}
	for k, v := range a.Spec.EventMetadata {
		if old, ok := md[k]; ok && old != v {
			d.Log.Info("eventMetadata key already set by the event, keeping the event's value", "alert", client.ObjectKeyFromObject(a), "key", k)
			continue
		}
		md[k] = v
	}
	if a.Spec.Summary != "" {
		if _, ok := md["summary"]; !ok {
			md["summary"] = a.Spec.Summary
		}
	}
	ev.Metadata = md
	return ev
}

// deliver sends one event to the Provider of one Alert.
func (d *Dispatcher) deliver(ctx context.Context, m delivery) {
	a := m.alert
	log := d.Log.WithValues("alert", client.ObjectKeyFromObject(a), "provider", a.Spec.ProviderRef.Name,
		"object", m.event.InvolvedObject.Kind+"/"+m.event.InvolvedObject.Namespace+"/"+m.event.InvolvedObject.Name, "reason", m.event.Reason)
	p := &notificationv1beta3.Provider{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.ProviderRef.Name}, p); err != nil {
		log.Error(err, "cannot read the Alert's Provider; event dropped")
		return
	}
	if p.Spec.Suspend {
		log.V(1).Info("Provider is suspended; event dropped")
		return
	}
	n, err := provider.Build(ctx, d.APIReader, p, a, d.Settings)
	if err != nil {
		log.Error(err, "Provider cannot deliver; event dropped")
		return
	}
	if err := n.Post(ctx, m.event); err != nil {
		if errors.Is(err, notify.ErrSkipped) {
			log.V(1).Info("event not delivered", "why", err.Error())
			return
		}
		log.Error(err, "delivery failed", "type", p.Spec.Type)
		return
	}
	log.V(1).Info("event delivered", "type", p.Spec.Type)
}
