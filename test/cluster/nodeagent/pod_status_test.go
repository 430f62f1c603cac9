package nodeagent

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func statusTestPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", Generation: 1},
		Spec: v1.PodSpec{
			RestartPolicy:  v1.RestartPolicyNever,
			InitContainers: []v1.Container{{Name: "build", Image: "docker:cli"}},
			Containers:     []v1.Container{{Name: "push", Image: "docker:cli"}},
		},
		Status: v1.PodStatus{
			Phase:    v1.PodPending,
			QOSClass: v1.PodQOSBestEffort,
			Conditions: []v1.PodCondition{
				{Type: v1.PodScheduled, Status: v1.ConditionTrue},
			},
		},
	}
}

func condition(s v1.PodStatus, t v1.PodConditionType) v1.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return v1.PodCondition{}
}

func TestBuildPodStatusLifecycle(t *testing.T) {
	pod := statusTestPod()
	st := newPodState(pod)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st.startTime = t0

	s := buildPodStatus(pod, st, t0)
	if s.Phase != v1.PodPending || s.PodIP != "" || s.HostIP != hostIP || s.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("pending: phase %s podIP %q hostIP %q", s.Phase, s.PodIP, s.HostIP)
	}
	if w := s.InitContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("init waiting = %+v", s.InitContainerStatuses[0].State)
	}
	if c := condition(s, v1.PodInitialized); c.Status != v1.ConditionFalse || c.Reason != "ContainersNotInitialized" {
		t.Errorf("initialized = %+v", c)
	}
	if c := condition(s, v1.PodScheduled); c.Status != v1.ConditionTrue {
		t.Error("PodScheduled (owned by the scheduler) was dropped")
	}

	// Sandbox ready, init container running.
	st.sandboxReady = true
	st.init[0].waiting, st.init[0].run = nil, &containerRun{id: "emulated://1", startedAt: t0.Add(time.Second)}
	pod.Status = buildPodStatus(pod, st, t0.Add(time.Second))
	s = pod.Status
	if s.PodIP != podIP || condition(s, v1.PodReadyToStartContainers).Status != v1.ConditionTrue {
		t.Errorf("sandbox: podIP %q, %+v", s.PodIP, condition(s, v1.PodReadyToStartContainers))
	}
	if r := s.InitContainerStatuses[0].State.Running; r == nil || s.InitContainerStatuses[0].ContainerID != "emulated://1" || s.InitContainerStatuses[0].Ready {
		t.Errorf("init running = %+v", s.InitContainerStatuses[0])
	}

	// Init done, main running: Running, Ready.
	st.init[0].run.finishedAt, st.init[0].run.reason = t0.Add(2*time.Second), "Completed"
	st.main[0].waiting, st.main[0].run = nil, &containerRun{id: "emulated://2", startedAt: t0.Add(3 * time.Second)}
	readyAt := t0.Add(3 * time.Second)
	pod.Status = buildPodStatus(pod, st, readyAt)
	s = pod.Status
	if s.Phase != v1.PodRunning || condition(s, v1.PodReady).Status != v1.ConditionTrue || condition(s, v1.PodInitialized).Status != v1.ConditionTrue {
		t.Errorf("running: phase %s ready %+v", s.Phase, condition(s, v1.PodReady))
	}
	if !s.InitContainerStatuses[0].Ready || !s.ContainerStatuses[0].Ready || !*s.ContainerStatuses[0].Started {
		t.Error("readiness of completed init / running main container")
	}
	if s.StartTime == nil || !s.StartTime.Time.Equal(t0) {
		t.Errorf("startTime = %v", s.StartTime)
	}

	// Main fails: the agent decides Failed.
	st.main[0].run.finishedAt, st.main[0].run.exitCode, st.main[0].run.reason, st.main[0].run.message = t0.Add(4*time.Second), 2, "Error", "boom"
	st.phase = v1.PodFailed
	s = buildPodStatus(pod, st, t0.Add(5*time.Second))
	term := s.ContainerStatuses[0].State.Terminated
	if s.Phase != v1.PodFailed || term == nil || term.ExitCode != 2 || term.Reason != "Error" || term.Message != "boom" || term.ContainerID != "emulated://2" {
		t.Errorf("failed: phase %s terminated %+v", s.Phase, term)
	}
	if c := condition(s, v1.PodReady); c.Status != v1.ConditionFalse || c.Reason != "PodFailed" {
		t.Errorf("ready after failure = %+v", c)
	}
	if c := condition(s, v1.PodReadyToStartContainers); c.Status != v1.ConditionFalse {
		t.Errorf("sandbox after failure = %+v", c)
	}
	// Transition time moves only when the status changes.
	if c := condition(s, v1.PodInitialized); !c.LastTransitionTime.Time.Equal(readyAt) {
		t.Errorf("Initialized transition time = %v, want %v", c.LastTransitionTime, readyAt)
	}
}

func TestBuildPodStatusRestarted(t *testing.T) {
	pod := statusTestPod()
	pod.Spec.InitContainers = nil
	st := newPodState(pod)
	if w := st.main[0].waiting; w.Reason != "ContainerCreating" {
		t.Errorf("waiting reason without init containers = %q", w.Reason)
	}
	t0 := time.Now()
	st.main[0].waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
	st.main[0].lastTerminated = &containerRun{id: "emulated://a", startedAt: t0, finishedAt: t0, exitCode: 1, reason: "Error"}
	st.main[0].restartCount = 1
	s := buildPodStatus(pod, st, t0)
	cs := s.ContainerStatuses[0]
	if s.Phase != v1.PodRunning || cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.ContainerID != "emulated://a" {
		t.Errorf("restarted: phase %s status %+v", s.Phase, cs)
	}
}

func TestImageFields(t *testing.T) {
	if got := displayImage("busybox"); got != "docker.io/library/busybox:latest" {
		t.Errorf("displayImage = %q", got)
	}
	if got := imageID("mcr.microsoft.com/windows/servercore:ltsc2022"); len(got) < 80 || got[:len("mcr.microsoft.com/windows/servercore@sha256:")] != "mcr.microsoft.com/windows/servercore@sha256:" {
		t.Errorf("imageID = %q", got)
	}
}
