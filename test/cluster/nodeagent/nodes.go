package nodeagent

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeSpec is one emulated node. The bed's default set is DefaultNodes; add a
// row there to grow the cluster.
type NodeSpec struct {
	Name string
	OS   string // value of kubernetes.io/os: "linux" or "windows"
	Arch string
	// Port is the kubelet endpoint on 127.0.0.1 (status.daemonEndpoints).
	Port int32
	// Labels are added to the well-known os/arch/hostname labels.
	Labels        map[string]string
	Taints        []v1.Taint
	OSImage       string
	KernelVersion string
}

// Labels that a Windows kubelet sets itself (windows-build) or that a managed
// Windows pool carries (agentpool, as on AKS) — dockhand selects pools by them.
const (
	labelWindowsBuild = "node.kubernetes.io/windows-build"
	labelAgentPool    = "agentpool"
)

// windowsNodeTaint is the taint GKE puts on every Windows node (AKS and EKS
// guides recommend the same shape): the real kube-scheduler keeps every pod
// that does not tolerate it off the Windows nodes.
var windowsNodeTaint = v1.Taint{Key: "node.kubernetes.io/os", Value: "windows", Effect: v1.TaintEffectNoSchedule}

// DefaultNodes is the mixed cluster the bed registers: one Linux node and one
// node per Windows Server version, each in its own pool (agentpool win19,
// win22, win25), as on AKS where the OS SKU is set per node pool. Every
// Windows node is tainted node.kubernetes.io/os=windows:NoSchedule.
func DefaultNodes() []NodeSpec {
	return []NodeSpec{
		{
			Name: "linux-0", OS: "linux", Arch: "amd64", Port: 11250,
			OSImage:       "Debian GNU/Linux 12 (bookworm)",
			KernelVersion: hostKernelVersion(),
		},
		windowsNode("win-ltsc2022-0", 11251, "10.0.20348", "win22", "Windows Server 2022 Datacenter", "10.0.20348.2966"),
		windowsNode("win-ltsc2019-0", 11252, "10.0.17763", "win19", "Windows Server 2019 Datacenter", "10.0.17763.6659"),
		windowsNode("win-ltsc2025-0", 11253, "10.0.26100", "win25", "Windows Server 2025 Datacenter", "10.0.26100.4061"),
	}
}

func windowsNode(name string, port int32, build, pool, osImage, kernel string) NodeSpec {
	return NodeSpec{
		Name: name, OS: "windows", Arch: "amd64", Port: port,
		Labels:        map[string]string{labelWindowsBuild: build, labelAgentPool: pool},
		Taints:        []v1.Taint{windowsNodeTaint},
		OSImage:       osImage,
		KernelVersion: kernel,
	}
}

// windowsBuild is the node's Windows build (10.0.20348), "" on Linux.
func (s NodeSpec) windowsBuild() string {
	if s.OS != "windows" {
		return ""
	}
	return s.Labels[labelWindowsBuild]
}

// nodeCapacity is the same for every emulated node: enough for the scheduler
// to place a few build pods, small enough that requests still matter.
func nodeCapacity() v1.ResourceList {
	return v1.ResourceList{
		v1.ResourceCPU:              resource.MustParse("4"),
		v1.ResourceMemory:           resource.MustParse("16Gi"),
		v1.ResourcePods:             resource.MustParse("30"),
		v1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

const (
	hostIP = "127.0.0.1"
	podIP  = "127.0.0.1" // every "pod" is a host process on loopback
)

// nodeLabels are the labels the kubelet sets on its own Node (kubelet's
// initialNode) plus the spec's extra ones.
func (s NodeSpec) nodeLabels() map[string]string {
	labels := map[string]string{
		v1.LabelHostname:   s.Name,
		v1.LabelOSStable:   s.OS,
		v1.LabelArchStable: s.Arch,
	}
	for k, v := range s.Labels {
		labels[k] = v
	}
	return labels
}

// node builds the Node object the kubelet would register.
func (s NodeSpec) node(kubeletVersion string) *v1.Node {
	id := fmt.Sprintf("%x", sha256.Sum256([]byte("dockhand-bed-node/"+s.Name)))
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   s.Name,
			Labels: s.nodeLabels(),
			Annotations: map[string]string{
				// The kubelet sets this so the attach/detach controller owns volume attachment.
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec: v1.NodeSpec{Taints: s.Taints},
		Status: v1.NodeStatus{
			Capacity:    nodeCapacity(),
			Allocatable: nodeCapacity(),
			Addresses: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: hostIP},
				{Type: v1.NodeHostName, Address: s.Name},
			},
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: s.Port}},
			NodeInfo: v1.NodeSystemInfo{
				MachineID:               id[:32],
				SystemUUID:              formatUUID(id[32:64]),
				BootID:                  formatUUID(id[:32]),
				KernelVersion:           s.KernelVersion,
				OSImage:                 s.OSImage,
				ContainerRuntimeVersion: "docker://20.10.24", // the bed's dockerd runs what the pods ask for
				KubeletVersion:          kubeletVersion,
				OperatingSystem:         s.OS,
				Architecture:            s.Arch,
			},
		},
	}
}

func formatUUID(hex32 string) string {
	return hex32[0:8] + "-" + hex32[8:12] + "-" + hex32[12:16] + "-" + hex32[16:20] + "-" + hex32[20:32]
}

func hostKernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
