package nodeagent

import (
	"context"
	"fmt"
	"os"

	v1 "k8s.io/api/core/v1"
	"k8s.io/cri-client/pkg/logs"
	"k8s.io/kubernetes/pkg/util/tail"
	"k8s.io/utils/buffer"
)

// Limits of the kubelet (pkg/kubelet/container/runtime.go).
const (
	maxContainerTerminationMessageLength     = 1024 * 4
	maxContainerTerminationMessageLogLength  = 1024 * 2
	maxContainerTerminationMessageLogLines   = 80
	maxPodTerminationMessageLogLength        = 1024 * 12
	defaultTerminationMessagePath            = "/dev/termination-log"
	terminationMessageReasonContainerCantRun = "ContainerCannotRun"
)

// terminationMessage mirrors the kubelet's getTerminationMessage and
// readLastStringFromContainerLogs (pkg/kubelet/kuberuntime): the last 4 KiB
// of the termination-log file; when that is empty, the policy is
// FallbackToLogsOnError and the container failed, the last 80 lines of its
// log, at most their last 2 KiB.
func terminationMessage(ctx context.Context, c *v1.Container, messageFile, logPath string, exitCode int32, reason string) string {
	fallback := c.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError &&
		exitCode != 0 && reason != terminationMessageReasonContainerCantRun
	if messageFile != "" {
		data, _, err := tail.ReadAtMost(messageFile, maxContainerTerminationMessageLength)
		switch {
		case err == nil && len(data) > 0:
			return string(data)
		case err != nil && !os.IsNotExist(err):
			return fmt.Sprintf("Error on reading termination log %s: %v", messageFile, err)
		}
	}
	if !fallback {
		return ""
	}
	return lastLogLines(ctx, logPath)
}

func lastLogLines(ctx context.Context, logPath string) string {
	lines := int64(maxContainerTerminationMessageLogLines)
	buf, err := buffer.NewTypedRingFixed[byte](maxContainerTerminationMessageLogLength)
	if err != nil {
		return ""
	}
	if err := logs.ReadLogs(ctx, logPath, "", &logs.LogOptions{TailLines: &lines}, nil, buf, buf); err != nil {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	return string(buf.Slice())
}

// capTerminationMessages trims each terminated state's message to the pod's
// share of 12 KiB, as the kubelet's status manager (normalizeStatus) does.
func capTerminationMessages(pod *v1.Pod, status *v1.PodStatus) {
	per := maxPodTerminationMessageLogLength
	if n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers) + len(pod.Spec.EphemeralContainers); n > 0 {
		per /= n
	}
	trim := func(statuses []v1.ContainerStatus) {
		for i := range statuses {
			for _, st := range []*v1.ContainerState{&statuses[i].State, &statuses[i].LastTerminationState} {
				if st.Terminated != nil && len(st.Terminated.Message) > per {
					st.Terminated.Message = st.Terminated.Message[:per]
				}
			}
		}
	}
	trim(status.InitContainerStatuses)
	trim(status.ContainerStatuses)
}
