package install

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gotk-dev/gotk/internal/controller"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Named container ports.
const (
	metricsPortName  = "http-prom"
	healthPortName   = "healthz"
	httpPortName     = "http"
	webhookPortName  = "http-webhook"
	sourceService    = "source-controller"
	eventsService    = "notification-controller"
	receiverService  = "webhook-receiver"
	containerName    = "manager"
	nonRootID        = 65532
	storageMountPath = "/data"
	// imageBinDir is where the image keeps the controller binaries.
	imageBinDir = "/usr/local/bin/"
)

// deployment describes one Deployment: its name and the components it runs.
type deployment struct {
	name       string
	components []string
}

func (o Options) deploymentsToRun() []deployment {
	if o.AllInOne {
		return []deployment{{name: AllInOneName, components: o.Components}}
	}
	var out []deployment
	for _, c := range o.Components {
		if c == "artifactgenerator" {
			continue // added to the source controller's below
		}
		d := deployment{name: o.DeploymentName(c), components: []string{c}}
		if c == "source" && o.Has("artifactgenerator") {
			d.components = append(d.components, "artifactgenerator")
		}
		out = append(out, d)
	}
	return out
}

func (d deployment) has(component string) bool {
	for _, c := range d.components {
		if c == component {
			return true
		}
	}
	return false
}

// selector selects the pods of one Deployment.
func selector(name string) map[string]string {
	return map[string]string{NameLabel: name}
}

func deployments(o Options) []client.Object {
	var out []client.Object
	for _, d := range o.deploymentsToRun() {
		out = append(out, o.deployment(d))
	}
	return out
}

// args are the flags of one Deployment's controller binary.
func (o Options) args(d deployment) []string {
	args := []string{
		"--controllers=" + strings.Join(d.components, ","),
		"--watch-all-namespaces=" + strconv.FormatBool(o.WatchAllNamespaces),
		"--log-level=" + o.LogLevel,
		"--log-encoding=json",
		fmt.Sprintf("--metrics-addr=:%d", MetricsPort),
		fmt.Sprintf("--health-addr=:%d", HealthPort),
		"--leader-elect",
	}
	if o.Has("notification") {
		args = append(args, "--events-addr=http://"+o.serviceHost(eventsService)+"/")
	}
	if d.has("notification") {
		args = append(args, fmt.Sprintf("--events-listen-addr=:%d", EventsPort))
	}
	if d.has("source") {
		args = append(args,
			"--storage-path="+storageMountPath,
			fmt.Sprintf("--storage-addr=:%d", StoragePort),
			// The kubelet expands $(RUNTIME_NAMESPACE) from the env below.
			fmt.Sprintf("--storage-adv-addr=%s.$(RUNTIME_NAMESPACE).svc.%s.", sourceService, o.ClusterDomain),
		)
	}
	return args
}

func (o Options) deployment(d deployment) *appsv1.Deployment {
	labels := mergeLabels(o.commonLabels(d.name), selector(d.name))
	ports := []corev1.ContainerPort{
		{Name: metricsPortName, ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
		{Name: healthPortName, ContainerPort: HealthPort, Protocol: corev1.ProtocolTCP},
	}
	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	if d.has("source") {
		ports = append(ports, corev1.ContainerPort{Name: httpPortName, ContainerPort: StoragePort, Protocol: corev1.ProtocolTCP})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: storageMountPath})
	}
	if d.has("notification") {
		name := httpPortName
		if d.has("source") {
			name = "http-events"
		}
		ports = append(ports,
			corev1.ContainerPort{Name: name, ContainerPort: EventsPort, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: webhookPortName, ContainerPort: ReceiverPort, Protocol: corev1.ProtocolTCP},
		)
	}
	var pullSecrets []corev1.LocalObjectReference
	if o.ImagePullSecret != "" {
		pullSecrets = []corev1.LocalObjectReference{{Name: o.ImagePullSecret}}
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString(healthPortName),
		}}}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: o.Namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: selector(d.name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: labels,
					Annotations: map[string]string{
						"prometheus.io/scrape": "true",
						"prometheus.io/port":   strconv.Itoa(MetricsPort),
					},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName:            o.serviceAccountName(d.components[0]),
					TerminationGracePeriodSeconds: ptr.To[int64](60),
					ImagePullSecrets:              pullSecrets,
					NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](nonRootID),
						RunAsGroup:     ptr.To[int64](nonRootID),
						FSGroup:        ptr.To[int64](nonRootID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            containerName,
						Image:           o.Image(),
						ImagePullPolicy: corev1.PullIfNotPresent,
						// The image holds a binary per controller beside
						// gotk-controller, which holds them all.
						Command: []string{imageBinDir + controller.BinaryOf(d.components)},
						Args:    o.args(d),
						Env: []corev1.EnvVar{{
							Name: "RUNTIME_NAMESPACE",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
								APIVersion: "v1", FieldPath: "metadata.namespace",
							}},
						}, {
							// The Go runtime sizes its threads and its
							// garbage collection to the container's limits
							// rather than the node's.
							Name:      "GOMAXPROCS",
							ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}},
						}, {
							Name:      "GOMEMLIMIT",
							ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}},
						}},
						Ports:          ports,
						LivenessProbe:  probe("/healthz"),
						ReadinessProbe: probe("/readyz"),
						Resources:      o.resources(d),
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						VolumeMounts: mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// resources are sized for a few hundred objects per controller; an
// all-in-one pod gets the room of about two.
func (o Options) resources(d deployment) corev1.ResourceRequirements {
	if len(d.components) > 1 {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi")},
		}
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}

func services(o Options) []client.Object {
	var out []client.Object
	svc := func(name, component, target string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: o.objectMeta(name, component),
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeClusterIP,
				Selector: selector(target),
				Ports:    ports,
			},
		}
	}
	metrics := corev1.ServicePort{Name: metricsPortName, Port: MetricsPort, TargetPort: intstr.FromString(metricsPortName), Protocol: corev1.ProtocolTCP}
	http := func(target string) corev1.ServicePort {
		return corev1.ServicePort{Name: httpPortName, Port: 80, TargetPort: intstr.FromString(target), Protocol: corev1.ProtocolTCP}
	}
	webhook := corev1.ServicePort{Name: httpPortName, Port: 80, TargetPort: intstr.FromString(webhookPortName), Protocol: corev1.ProtocolTCP}

	if o.AllInOne {
		out = append(out, svc(AllInOneName, AllInOneName, AllInOneName, metrics))
		if o.Has("source") {
			out = append(out, svc(sourceService, AllInOneName, AllInOneName, http(httpPortName)))
		}
		if o.Has("notification") {
			events := httpPortName
			if o.Has("source") {
				events = "http-events"
			}
			out = append(out, svc(eventsService, AllInOneName, AllInOneName, http(events)))
			out = append(out, svc(receiverService, AllInOneName, AllInOneName, webhook))
		}
		return out
	}
	for _, c := range o.Components {
		if c == "artifactgenerator" {
			continue // served by the source controller's Services
		}
		name := o.DeploymentName(c)
		ports := []corev1.ServicePort{metrics}
		if c == "source" || c == "notification" {
			ports = append([]corev1.ServicePort{http(httpPortName)}, ports...)
		}
		out = append(out, svc(name, name, name, ports...))
		if c == "notification" {
			out = append(out, svc(receiverService, name, name, webhook))
		}
	}
	return out
}
