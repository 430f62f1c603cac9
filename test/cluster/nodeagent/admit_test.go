package nodeagent

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestAdmit(t *testing.T) {
	win := DefaultNodes()[1]
	pod := testPod()
	if _, _, ok := admit(pod, win); !ok {
		t.Error("plain pod rejected")
	}
	pod.Spec.NodeSelector = map[string]string{v1.LabelOSStable: "linux"}
	if reason, _, ok := admit(pod, win); ok || reason != "PodOSSelectorNodeLabelDoesNotMatch" {
		t.Errorf("os selector: %s %v", reason, ok)
	}
	pod = testPod()
	pod.Spec.OS = &v1.PodOS{Name: v1.Linux}
	if reason, _, ok := admit(pod, win); ok || reason != "PodOSNotSupported" {
		t.Errorf("os field: %s %v", reason, ok)
	}
	pod = testPod()
	pod.Spec.InitContainers = []v1.Container{{Name: "side", RestartPolicy: ptr.To(v1.ContainerRestartPolicyAlways)}}
	if _, _, ok := admit(pod, win); ok {
		t.Error("sidecar admitted")
	}
}

func TestLostPodStatus(t *testing.T) {
	pod := testPod()
	pod.Status = v1.PodStatus{
		Phase:                 v1.PodRunning,
		InitContainerStatuses: []v1.ContainerStatus{{Name: "i", Ready: true, State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 0}}}},
		ContainerStatuses: []v1.ContainerStatus{
			{Name: "a", Ready: true, State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}},
			{Name: "b", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
		},
		Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}, {Type: v1.PodScheduled, Status: v1.ConditionTrue}},
	}
	if !podHasStarted(pod) {
		t.Fatal("running pod not seen as started")
	}
	s := lostPodStatus(pod, time.Now())
	if s.Phase != v1.PodFailed {
		t.Errorf("phase = %s", s.Phase)
	}
	for _, cs := range s.ContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.Reason != "ContainerStatusUnknown" || cs.State.Terminated.ExitCode != 137 || cs.Ready {
			t.Errorf("container %s = %+v", cs.Name, cs.State)
		}
	}
	if s.InitContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Error("completed init container rewritten")
	}
	if c := s.Conditions[0]; c.Status != v1.ConditionFalse || c.Reason != "PodFailed" {
		t.Errorf("ready = %+v", c)
	}
	if podHasStarted(testPod()) {
		t.Error("fresh pod seen as started")
	}
}

func TestDefaultNodes(t *testing.T) {
	nodes := DefaultNodes()
	if len(nodes) != 4 {
		t.Fatalf("%d nodes", len(nodes))
	}
	n := nodes[1].node("v1.37.2")
	l := n.Labels
	if l[v1.LabelOSStable] != "windows" || l[v1.LabelArchStable] != "amd64" || l[v1.LabelHostname] != "win-ltsc2022-0" ||
		l[labelWindowsBuild] != "10.0.20348" || l[labelAgentPool] != "win22" {
		t.Errorf("labels = %v", l)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 11251 || n.Status.NodeInfo.OSImage != "Windows Server 2022 Datacenter" ||
		n.Status.NodeInfo.OperatingSystem != "windows" || n.Status.Addresses[0].Address != "127.0.0.1" {
		t.Errorf("status = %+v", n.Status)
	}
	if nodes[2].Labels[labelWindowsBuild] != "10.0.17763" || nodes[2].Labels[labelAgentPool] != "win19" || nodes[0].Labels[labelAgentPool] != "" {
		t.Error("ltsc2019 / linux labels")
	}
	n25 := nodes[3].node("v1.37.2")
	if n25.Name != "win-ltsc2025-0" || n25.Labels[labelWindowsBuild] != "10.0.26100" || n25.Labels[labelAgentPool] != "win25" ||
		n25.Status.NodeInfo.OSImage != "Windows Server 2025 Datacenter" || n25.Status.NodeInfo.KernelVersion != "10.0.26100.4061" ||
		n25.Status.DaemonEndpoints.KubeletEndpoint.Port != 11253 {
		t.Errorf("ltsc2025 node = %+v", n25)
	}
	for _, s := range nodes[1:] {
		if len(s.Taints) != 1 || s.Taints[0] != (v1.Taint{Key: "node.kubernetes.io/os", Value: "windows", Effect: v1.TaintEffectNoSchedule}) {
			t.Errorf("%s taints = %v", s.Name, s.Taints)
		}
	}
	if len(nodes[0].Taints) != 0 {
		t.Error("linux-0 tainted")
	}
	conds := nodeConditions(nil, time.Now())
	if conds[3].Type != v1.NodeReady || conds[3].Status != v1.ConditionTrue {
		t.Errorf("conditions = %+v", conds)
	}
}
