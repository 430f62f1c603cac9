package nodeagent

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
)

// admit is the part of the kubelet's admission (pkg/kubelet/lifecycle) that
// matters for a mixed cluster: a pod that bypassed the scheduler onto a node
// of the wrong OS is rejected, not run. Pod features the agent cannot
// emulate faithfully are rejected too, with a message saying so.
func admit(pod *v1.Pod, node NodeSpec) (reason, message string, ok bool) {
	if os, set := pod.Spec.NodeSelector[v1.LabelOSStable]; set && os != node.OS {
		return "PodOSSelectorNodeLabelDoesNotMatch", "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label", false
	}
	if pod.Spec.OS != nil && string(pod.Spec.OS.Name) != node.OS {
		return "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS", false
	}
	// The kubelet admits only pods that tolerate the node's NoExecute
	// taints (pkg/kubelet/lifecycle generalFilter); NoSchedule is the
	// scheduler's business, so a pod bound by nodeName passes it.
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Taints, pod.Spec.Tolerations, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoExecute
	}, false); untolerated {
		return "TaintToleration", "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate", false
	}
	for i := range pod.Spec.InitContainers {
		if podutil.IsRestartableInitContainer(&pod.Spec.InitContainers[i]) {
			return "UnsupportedPodSpec", "sidecar containers (init containers with restartPolicy Always) are not implemented by the test bed node agent", false
		}
	}
	if len(pod.Spec.EphemeralContainers) > 0 {
		return "UnsupportedPodSpec", "ephemeral containers are not implemented by the test bed node agent", false
	}
	return "", "", true
}

// reject records a failed admission the way the kubelet does: phase Failed
// with the reason and message, nothing started.
func (w *podWorker) reject(ctx context.Context, pod *v1.Pod, reason, message string) {
	w.podEvent(pod, v1.EventTypeWarning, reason, message)
	w.mu.Lock()
	w.state.phase, w.state.reason, w.state.message = v1.PodFailed, reason, message
	w.mu.Unlock()
	w.push(ctx)
}

// podHasStarted reports whether an earlier agent run had started any of the
// pod's containers, judging by the stored status.
func podHasStarted(pod *v1.Pod) bool {
	if pod.Status.Phase == v1.PodRunning {
		return true
	}
	for _, list := range [][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// markLost fails a pod whose processes were lost with an earlier agent run,
// using the status the kubelet's status manager writes for containers that
// can no longer be found (ContainerStatusUnknown, exit code 137).
func (w *podWorker) markLost(ctx context.Context, pod *v1.Pod) {
	w.podEvent(pod, v1.EventTypeWarning, "ContainerStatusUnknown", "the node agent restarted and its processes for this pod are gone")
	w.pushStatus(ctx, func(cur *v1.Pod) *v1.PodStatus {
		return lostPodStatus(cur, time.Now())
	})
}

func lostPodStatus(pod *v1.Pod, now time.Time) *v1.PodStatus {
	status := pod.Status.DeepCopy()
	lost := func(cs *v1.ContainerStatus) {
		cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
			Reason:   "ContainerStatusUnknown",
			Message:  "The container could not be located when the pod was terminated",
			ExitCode: 137,
		}}
		cs.Ready = false
		cs.Started = new(bool)
	}
	initialized := true
	for i := range status.InitContainerStatuses {
		cs := &status.InitContainerStatuses[i]
		if cs.State.Running != nil {
			lost(cs)
		}
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initialized = false
		}
	}
	for i := range status.ContainerStatuses {
		cs := &status.ContainerStatuses[i]
		if cs.State.Running != nil || (initialized && cs.State.Terminated == nil) {
			lost(cs)
		}
	}
	status.Phase = v1.PodFailed
	status.Message = "The test bed node agent restarted; the pod's processes did not survive it"
	for i := range status.Conditions {
		c := &status.Conditions[i]
		switch c.Type {
		case v1.PodReady, v1.ContainersReady:
			setCondition(c, v1.ConditionFalse, "PodFailed", now)
		case v1.PodReadyToStartContainers:
			setCondition(c, v1.ConditionFalse, "", now)
		}
	}
	return status
}

func setCondition(c *v1.PodCondition, s v1.ConditionStatus, reason string, now time.Time) {
	if c.Status != s {
		c.LastTransitionTime = apiTime(now)
	}
	c.Status, c.Reason, c.Message = s, reason, ""
}
