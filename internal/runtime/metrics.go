package runtime

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gotk-dev/gotk/api/meta"
)

// Metrics are the gotk-specific Prometheus series, served beside
// controller-runtime's own on the manager's metrics endpoint.
type Metrics struct {
	duration  *prometheus.HistogramVec
	condition *prometheus.GaugeVec
	suspend   *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gotk_reconcile_duration_seconds",
			Help:    "Time a reconcile of a gotk object takes, by kind.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"kind"}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gotk_reconcile_condition",
			Help: "1 for the current status of each summary condition of a gotk object, 0 for the others.",
		}, []string{"kind", "name", "namespace", "type", "status"}),
		suspend: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gotk_suspend_status",
			Help: "1 when a gotk object is suspended, 0 otherwise.",
		}, []string{"kind", "name", "namespace"}),
	}
	reg.MustRegister(m.duration, m.condition, m.suspend)
	return m
}

// DefaultMetrics are registered with controller-runtime's registry.
var DefaultMetrics = NewMetrics(ctrlmetrics.Registry)

// Init creates the duration series of kind with no observations, so that
// dashboards and alerts see every kind a controller serves from its start.
func (m *Metrics) Init(kind string) {
	m.duration.WithLabelValues(kind)
}

// ObserveDuration records the time since start for kind.
func (m *Metrics) ObserveDuration(kind string, start time.Time) {
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// summaryConditions are the condition types exported as gauges.
var summaryConditions = []string{meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition}

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// RecordObject exports the summary conditions and the suspend state of obj.
func (m *Metrics) RecordObject(kind string, obj Object, suspended bool) {
	for _, t := range summaryConditions {
		c := Get(obj, t)
		for _, s := range conditionStatuses {
			v := 0.0
			if c != nil && c.Status == s {
				v = 1
			}
			m.condition.WithLabelValues(kind, obj.GetName(), obj.GetNamespace(), t, string(s)).Set(v)
		}
	}
	v := 0.0
	if suspended {
		v = 1
	}
	m.suspend.WithLabelValues(kind, obj.GetName(), obj.GetNamespace()).Set(v)
}

// Forget removes every series of a deleted object.
func (m *Metrics) Forget(kind, namespace, name string) {
	labels := prometheus.Labels{"kind": kind, "name": name, "namespace": namespace}
	m.condition.DeletePartialMatch(labels)
	m.suspend.Delete(labels)
}
