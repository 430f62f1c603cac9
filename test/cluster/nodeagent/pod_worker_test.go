package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// newTestKubelet is a node agent for one Linux node backed by a fake API.
func newTestKubelet(t *testing.T, objects ...*v1.Pod) (*nodeKubelet, *fake.Clientset) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	os.WriteFile(sock, nil, 0o600)
	client := fake.NewClientset()
	for _, p := range objects {
		client.Tracker().Add(p)
	}
	cfg := Config{Client: client, Dir: dir, DockerSock: sock}
	k, err := newNodeKubelet(cfg, layout{dir: dir}, DefaultNodes()[0], map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	k.recorder = record.NewFakeRecorder(100)
	return k, client
}

func workerTestPod(restart v1.RestartPolicy, initCmd, mainCmd string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns", UID: "uid-w"},
		Spec: v1.PodSpec{
			NodeName:       "linux-0",
			RestartPolicy:  restart,
			InitContainers: []v1.Container{{Name: "init", Image: "busybox", Command: []string{"sh", "-c", initCmd}}},
			Containers:     []v1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", mainCmd}, TerminationMessagePolicy: v1.TerminationMessageFallbackToLogsOnError}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
}

func runWorker(t *testing.T, k *nodeKubelet, pod *v1.Pod) (*podWorker, chan struct{}) {
	t.Helper()
	w := newPodWorker(k, pod, false)
	k.workers[pod.UID] = w
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); w.run(ctx) }()
	return w, done
}

func waitPhase(t *testing.T, client *fake.Clientset, pod *v1.Pod, phase v1.PodPhase) *v1.Pod {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		cur, err := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err == nil && cur.Status.Phase == phase {
			return cur
		}
		time.Sleep(50 * time.Millisecond)
	}
	cur, _ := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	t.Fatalf("pod never reached phase %s: %+v", phase, cur.Status)
	return nil
}

func TestPodWorkerRunsToSuccessAndConfirmsDeletion(t *testing.T) {
	pod := workerTestPod(v1.RestartPolicyNever, "echo init", "echo main; printf ok > /dev/termination-log")
	k, client := newTestKubelet(t, pod)
	w, done := runWorker(t, k, pod)

	cur := waitPhase(t, client, pod, v1.PodSucceeded)
	if s := cur.Status.InitContainerStatuses[0].State.Terminated; s == nil || s.Reason != "Completed" {
		t.Errorf("init = %+v", cur.Status.InitContainerStatuses[0].State)
	}
	if s := cur.Status.ContainerStatuses[0].State.Terminated; s == nil || s.Message != "ok" || s.ExitCode != 0 {
		t.Errorf("main = %+v", cur.Status.ContainerStatuses[0].State)
	}
	if cur.Status.StartTime == nil || cur.Status.PodIP != podIP {
		t.Errorf("startTime %v podIP %q", cur.Status.StartTime, cur.Status.PodIP)
	}

	// The API server marks it deleted; the agent confirms with grace 0.
	deleting := cur.DeepCopy()
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	deleting.DeletionGracePeriodSeconds = ptr.To[int64](30)
	w.update(deleting)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not finish after deletion")
	}
	var graceZero bool
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			graceZero = ptr.Deref(d.GetDeleteOptions().GracePeriodSeconds, -1) == 0 &&
				*d.GetDeleteOptions().Preconditions.UID == types.UID("uid-w")
		}
	}
	if !graceZero {
		t.Error("no pod deletion with grace period 0 and UID precondition")
	}
	if _, err := os.Stat(w.dirs.volume("")); !os.IsNotExist(err) {
		t.Error("volumes not cleaned up after deletion")
	}
	if _, err := os.Stat(w.dirs.log("main")); err != nil {
		t.Error("logs removed with the pod")
	}
}

func TestPodWorkerFailedInitFailsPod(t *testing.T) {
	pod := workerTestPod(v1.RestartPolicyNever, "echo broken; exit 7", "echo never")
	pod.Spec.InitContainers[0].TerminationMessagePolicy = v1.TerminationMessageFallbackToLogsOnError
	k, client := newTestKubelet(t, pod)
	runWorker(t, k, pod)
	cur := waitPhase(t, client, pod, v1.PodFailed)
	if s := cur.Status.InitContainerStatuses[0].State.Terminated; s == nil || s.ExitCode != 7 || s.Reason != "Error" || s.Message != "broken\n" {
		t.Errorf("init = %+v", cur.Status.InitContainerStatuses[0].State)
	}
	if w := cur.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("main = %+v", cur.Status.ContainerStatuses[0].State)
	}
}

func TestPodWorkerStopsOnDeletion(t *testing.T) {
	pod := workerTestPod(v1.RestartPolicyNever, "true", "echo up; exec sleep 60")
	k, client := newTestKubelet(t, pod)
	w, _ := runWorker(t, k, pod)
	deadline := time.Now().Add(10 * time.Second)
	for w.runningContainerID("main") == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	deleting := pod.DeepCopy()
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	deleting.DeletionGracePeriodSeconds = ptr.To[int64](30)
	start := time.Now()
	w.update(deleting)
	// The worker writes the terminal status and then confirms the deletion,
	// which the fake API carries out at once: look for the written status.
	var final *v1.Pod
	for final == nil && time.Since(start) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
		for _, a := range client.Actions() {
			if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" {
				if p := u.GetObject().(*v1.Pod); p.Status.Phase == v1.PodFailed {
					final = p
				}
			}
		}
	}
	if final == nil {
		t.Fatal("no Failed status written after deletion")
	}
	if s := final.Status.ContainerStatuses[0].State.Terminated; s == nil || s.ExitCode != 143 {
		t.Errorf("main = %+v", final.Status.ContainerStatuses[0].State)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("SIGTERM took %s", time.Since(start))
	}
}

func TestPodWorkerOnFailureRestarts(t *testing.T) {
	pod := workerTestPod(v1.RestartPolicyOnFailure, "true", `f=$HOME/n; n=$(cat $f 2>/dev/null || echo 0); echo $((n+1)) > $f; [ $n -ge 1 ]`)
	k, client := newTestKubelet(t, pod)
	runWorker(t, k, pod)
	cur := waitPhase(t, client, pod, v1.PodSucceeded)
	cs := cur.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("restarted status = %+v", cs)
	}
}

func TestPodWorkerDeadline(t *testing.T) {
	pod := workerTestPod(v1.RestartPolicyNever, "true", "exec sleep 60")
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](1)
	k, client := newTestKubelet(t, pod)
	runWorker(t, k, pod)
	cur := waitPhase(t, client, pod, v1.PodFailed)
	if cur.Status.Reason != "DeadlineExceeded" {
		t.Errorf("reason = %q", cur.Status.Reason)
	}
}
