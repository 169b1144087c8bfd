package runtime

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

func TestMetricsSeriesOfObjects(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)

	ready := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop"}}
	MarkReady(ready, meta.SucceededReason, "stored")
	m.RecordObject(sourcev1.GitRepositoryKind, ready, false)
	stalled := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "shop"}}
	MarkFalse(stalled, meta.ReadyCondition, meta.FailedReason, "no")
	MarkTrue(stalled, meta.StalledCondition, meta.InvalidSpecReason, "no")
	m.RecordObject(sourcev1.GitRepositoryKind, stalled, true)

	want := `
# HELP gotk_reconcile_condition 1 for the current status of each summary condition of a gotk object, 0 for the others.
# TYPE gotk_reconcile_condition gauge
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Ready"} 1
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="False",type="Ready"} 1
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="False",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="False",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="True",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="True",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="True",type="Stalled"} 1
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="Unknown",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="Unknown",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="broken",namespace="shop",status="Unknown",type="Stalled"} 0
# HELP gotk_suspend_status 1 when a gotk object is suspended, 0 otherwise.
# TYPE gotk_suspend_status gauge
gotk_suspend_status{kind="GitRepository",name="app",namespace="shop"} 0
gotk_suspend_status{kind="GitRepository",name="broken",namespace="shop"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gotk_reconcile_condition", "gotk_suspend_status"); err != nil {
		t.Fatal(err)
	}

	// A status that changes replaces the old one; a deleted object's
	// series go.
	MarkFalse(ready, meta.ReadyCondition, meta.FailedReason, "lost")
	m.RecordObject(sourcev1.GitRepositoryKind, ready, false)
	m.Forget(sourcev1.GitRepositoryKind, "shop", "broken")
	want = `
# HELP gotk_suspend_status 1 when a gotk object is suspended, 0 otherwise.
# TYPE gotk_suspend_status gauge
gotk_suspend_status{kind="GitRepository",name="app",namespace="shop"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gotk_suspend_status"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, "gotk_reconcile_condition"); n != 9 {
		t.Errorf("%d condition series after Forget, want the 9 of one object", n)
	}
	want = `
# HELP gotk_reconcile_condition 1 for the current status of each summary condition of a gotk object, 0 for the others.
# TYPE gotk_reconcile_condition gauge
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Ready"} 1
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="False",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="True",type="Stalled"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Ready"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Reconciling"} 0
gotk_reconcile_condition{kind="GitRepository",name="app",namespace="shop",status="Unknown",type="Stalled"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gotk_reconcile_condition"); err != nil {
		t.Fatal(err)
	}
}
