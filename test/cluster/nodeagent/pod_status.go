package nodeagent

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	kubeletstatus "k8s.io/kubernetes/pkg/kubelet/status"
	"k8s.io/utils/ptr"
)

// containerRun is one instance of a container (one process run).
type containerRun struct {
	id         string // containerID as reported: emulated://<hex>
	startedAt  time.Time
	finishedAt time.Time // zero while running
	exitCode   int32
	reason     string
	message    string
	// probed: a readiness probe runs for this instance, and ready is its
	// latest verdict; without one a running container is ready.
	probed bool
	ready  bool
}

func (r *containerRun) running() bool { return r != nil && r.finishedAt.IsZero() }

// containerRecord is the agent's view of one container across restarts; it is
// what the kubelet reads back from the runtime to build a ContainerStatus.
type containerRecord struct {
	name         string
	image        string
	restartCount int32
	// waiting is set while no instance runs and the container is not
	// finished for good (creating, config error, crash-loop back-off).
	waiting        *v1.ContainerStateWaiting
	run            *containerRun // the latest instance, nil if none since waiting
	lastTerminated *containerRun // the instance before a restart
	// catalogue is the Windows image catalogue entry the image resolved
	// to (nil: not pulled yet, or a Linux node).
	catalogue *CatalogueImage
}

func (c *containerRecord) everStarted() bool { return c.run != nil || c.lastTerminated != nil }

// podState is everything the agent decides about a pod; buildPodStatus turns
// it into the PodStatus the kubelet would write.
type podState struct {
	startTime    time.Time
	sandboxReady bool
	init         []*containerRecord
	main         []*containerRecord
	// phase is set once the agent has decided the pod is done (Succeeded or
	// Failed); before that the phase follows from the containers.
	phase   v1.PodPhase
	reason  string
	message string
}

func newPodState(pod *v1.Pod) *podState {
	st := &podState{}
	waitingReason := "ContainerCreating"
	if len(pod.Spec.InitContainers) > 0 {
		waitingReason = "PodInitializing"
	}
	for _, c := range pod.Spec.InitContainers {
		st.init = append(st.init, &containerRecord{name: c.Name, image: c.Image, waiting: &v1.ContainerStateWaiting{Reason: waitingReason}})
	}
	for _, c := range pod.Spec.Containers {
		st.main = append(st.main, &containerRecord{name: c.Name, image: c.Image, waiting: &v1.ContainerStateWaiting{Reason: waitingReason}})
	}
	return st
}

func (st *podState) terminal() bool {
	return st.phase == v1.PodSucceeded || st.phase == v1.PodFailed
}

// currentPhase follows the kubelet's getPhase for a pod that is not done:
// Pending until the init containers succeeded and every container has been
// started once, Running after.
func (st *podState) currentPhase() v1.PodPhase {
	if st.terminal() {
		return st.phase
	}
	for _, c := range st.init {
		if c.run == nil || c.run.running() || c.run.exitCode != 0 {
			return v1.PodPending
		}
	}
	for _, c := range st.main {
		if !c.everStarted() {
			return v1.PodPending
		}
	}
	return v1.PodRunning
}

// kubeletConditions are the pod conditions the kubelet owns; any other
// condition (PodScheduled, DisruptionTarget, readiness gates) is kept as the
// API server has it.
var kubeletConditions = map[v1.PodConditionType]bool{
	v1.PodReadyToStartContainers: true,
	v1.PodInitialized:            true,
	v1.PodReady:                  true,
	v1.ContainersReady:           true,
}

// buildPodStatus renders the status the kubelet would write for pod, given
// the agent's state. old is the status currently stored (for transition
// times and the conditions the kubelet does not own).
func buildPodStatus(pod *v1.Pod, st *podState, now time.Time) v1.PodStatus {
	old := pod.Status
	phase := st.currentPhase()
	status := v1.PodStatus{
		Phase:              phase,
		Reason:             st.reason,
		Message:            st.message,
		HostIP:             hostIP,
		HostIPs:            []v1.HostIP{{IP: hostIP}},
		QOSClass:           old.QOSClass,
		NominatedNodeName:  old.NominatedNodeName,
		ObservedGeneration: pod.Generation,
		Resize:             old.Resize,
	}
	if !st.startTime.IsZero() {
		status.StartTime = ptr.To(apiTime(st.startTime))
	}
	if st.sandboxReady {
		status.PodIP = podIP
		status.PodIPs = []v1.PodIP{{IP: podIP}}
	}
	for i, c := range st.init {
		status.InitContainerStatuses = append(status.InitContainerStatuses, c.apiStatus(&pod.Spec.InitContainers[i], true))
	}
	for i, c := range st.main {
		status.ContainerStatuses = append(status.ContainerStatuses, c.apiStatus(&pod.Spec.Containers[i], false))
	}

	sandboxCond := v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: v1.ConditionFalse}
	if st.sandboxReady && !st.terminal() {
		sandboxCond.Status = v1.ConditionTrue
	}
	allStatuses := append(append([]v1.ContainerStatus(nil), status.InitContainerStatuses...), status.ContainerStatuses...)
	conds := []v1.PodCondition{
		sandboxCond,
		kubeletstatus.GeneratePodInitializedCondition(pod, &old, allStatuses, phase),
		kubeletstatus.GeneratePodReadyCondition(pod, &old, old.Conditions, allStatuses, phase),
		kubeletstatus.GenerateContainersReadyCondition(pod, &old, allStatuses, phase),
	}
	for _, c := range conds {
		c.ObservedGeneration = pod.Generation
		status.Conditions = append(status.Conditions, withTransitionTime(c, old.Conditions, now))
	}
	for _, c := range old.Conditions {
		if !kubeletConditions[c.Type] {
			status.Conditions = append(status.Conditions, c)
		}
	}
	capTerminationMessages(pod, &status)
	return status
}

// withTransitionTime keeps the stored lastTransitionTime while a condition's
// status does not change, as the kubelet's status manager does.
func withTransitionTime(c v1.PodCondition, old []v1.PodCondition, now time.Time) v1.PodCondition {
	if _, prev := podutil.GetPodConditionFromList(old, c.Type); prev != nil && prev.Status == c.Status {
		c.LastTransitionTime = prev.LastTransitionTime
	} else {
		c.LastTransitionTime = apiTime(now)
	}
	return c
}

func (c *containerRecord) apiStatus(spec *v1.Container, isInit bool) v1.ContainerStatus {
	s := v1.ContainerStatus{
		Name:         c.name,
		Image:        displayImage(c.image),
		ImageID:      imageID(c.image),
		RestartCount: c.restartCount,
		Started:      ptr.To(false),
	}
	if c.catalogue != nil {
		s.Image, s.ImageID = c.catalogue.Reference, catalogueImageID(*c.catalogue)
	}
	if c.lastTerminated != nil {
		s.LastTerminationState = v1.ContainerState{Terminated: c.lastTerminated.terminatedState()}
	}
	switch {
	case c.waiting != nil:
		s.State = v1.ContainerState{Waiting: c.waiting.DeepCopy()}
		if c.lastTerminated != nil {
			s.ContainerID = c.lastTerminated.id
		}
	case c.run.running():
		s.ContainerID = c.run.id
		s.State = v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: apiTime(c.run.startedAt)}}
		s.Started = ptr.To(true)
		// A running container is ready unless a readiness probe says
		// otherwise (probes run on Windows nodes only); a running init
		// container is not (it becomes ready when it completes).
		s.Ready = !isInit && (!c.run.probed || c.run.ready)
	default:
		s.ContainerID = c.run.id
		s.State = v1.ContainerState{Terminated: c.run.terminatedState()}
		s.Ready = isInit && c.run.exitCode == 0
	}
	if isInit && spec.RestartPolicy != nil && *spec.RestartPolicy == v1.ContainerRestartPolicyAlways {
		s.Ready = c.run.running()
	}
	return s
}

func (r *containerRun) terminatedState() *v1.ContainerStateTerminated {
	return &v1.ContainerStateTerminated{
		ExitCode:    r.exitCode,
		Reason:      r.reason,
		Message:     r.message,
		StartedAt:   apiTime(r.startedAt),
		FinishedAt:  apiTime(r.finishedAt),
		ContainerID: r.id,
	}
}

// terminatedReason is what container runtimes put in the terminated state.
func terminatedReason(exitCode int32) string {
	if exitCode == 0 {
		return "Completed"
	}
	return "Error"
}

// displayImage normalizes the image the way the runtime reports it
// (busybox -> docker.io/library/busybox:latest).
func displayImage(image string) string {
	if ref, err := reference.ParseDockerRef(image); err == nil {
		return ref.String()
	}
	return image
}

// imageID is a stable made-up digest: no image is pulled, but clients expect
// a repo digest here.
func imageID(image string) string {
	name := displayImage(image)
	if ref, err := reference.ParseNormalizedNamed(image); err == nil {
		name = ref.Name()
	}
	return fmt.Sprintf("%s@sha256:%x", name, sha256.Sum256([]byte(displayImage(image))))
}

// apiTime drops sub-second precision as the kubelet's normalizeStatus does:
// the API stores seconds, and comparing against it must not see a change
// that is not there.
func apiTime(t time.Time) metav1.Time { return metav1.NewTime(t).Rfc3339Copy() }
