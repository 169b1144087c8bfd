package install

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// networkPolicies isolate the gotk namespace: the controllers may reach
// anything (Git hosts, registries, the API server, notification
// providers), but only pods of the gotk namespace may reach them, except
// for Prometheus scraping the metrics port from any namespace and Receiver
// webhooks reaching the notification controller from anywhere.
func networkPolicies(o Options) []client.Object {
	tcp := corev1.ProtocolTCP
	np := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: o.objectMeta(name, ""),
			Spec:       spec,
		}
	}
	out := []client.Object{
		// All egress; ingress only from pods of this namespace.
		np("gotk-allow-egress", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
		}),
		// Metrics from every namespace.
		np("gotk-allow-scraping", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{PartOfLabel: PartOfValue}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptrIntStr(intstr.FromInt32(MetricsPort))}},
			}},
		}),
	}
	if o.Has("notification") {
		// Webhooks from anywhere, inside the cluster or out: no "from"
		// means every source.
		out = append(out, np("gotk-allow-webhooks", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector(o.DeploymentName("notification"))},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptrIntStr(intstr.FromInt32(ReceiverPort))}},
			}},
		}))
	}
	return out
}

func ptrIntStr(v intstr.IntOrString) *intstr.IntOrString { return &v }
