package nodeagent

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Why a pod's containers are being stopped.
const (
	stopDeleted  = "deleted"  // deletionTimestamp set: graceful termination
	stopDeadline = "deadline" // activeDeadlineSeconds exceeded
	stopGone     = "gone"     // the pod object disappeared (force delete)
)

// minimumGracePeriod is the kubelet's floor for killing containers
// (minimumGracePeriodInSeconds in pkg/kubelet/kuberuntime).
const minimumGracePeriod = 2 * time.Second

// podWorker drives one pod through its life on this node, like the kubelet's
// pod worker plus the container runtime: it owns the pod's processes and its
// podState, and is the only writer of the pod's status.
type podWorker struct {
	k         *nodeKubelet
	uid       types.UID
	dirs      podDirs
	recovered bool // present when the agent started

	mu         sync.Mutex
	pod        *v1.Pod // latest seen
	state      *podState
	procs      map[string]*process // running instances by container name
	runIDs     map[string]string   // containerID of running instances by container name
	stopping   bool
	stopReason string
	stopCh     chan struct{}

	updates  chan struct{}
	goneCh   chan struct{}
	goneOnce sync.Once
	pushMu   sync.Mutex
}

func newPodWorker(k *nodeKubelet, pod *v1.Pod, recovered bool) *podWorker {
	return &podWorker{
		k:         k,
		uid:       pod.UID,
		dirs:      k.lay.pod(pod.UID),
		recovered: recovered,
		pod:       pod,
		state:     newPodState(pod),
		procs:     map[string]*process{},
		runIDs:    map[string]string{},
		stopCh:    make(chan struct{}),
		updates:   make(chan struct{}, 1),
		goneCh:    make(chan struct{}),
	}
}

func (w *podWorker) currentPod() *v1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// update records a newer pod object; a deletionTimestamp starts graceful
// termination with the grace period the API server chose.
func (w *podWorker) update(pod *v1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 30)) * time.Second
		w.requestStop(stopDeleted, grace)
	}
	select {
	case w.updates <- struct{}{}:
	default:
	}
}

// gone: the pod object was removed from the API (force deletion, or our own
// confirmation). Whatever still runs is stopped quickly.
func (w *podWorker) gone() {
	w.goneOnce.Do(func() { close(w.goneCh) })
	w.requestStop(stopGone, minimumGracePeriod)
}

func (w *podWorker) isGone() bool {
	select {
	case <-w.goneCh:
		return true
	default:
		return false
	}
}

func (w *podWorker) isStopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
}

// requestStop stops starting containers and kills the running ones: SIGTERM
// to each process group, SIGKILL after the grace period.
func (w *podWorker) requestStop(reason string, grace time.Duration) {
	if grace < minimumGracePeriod {
		grace = minimumGracePeriod
	}
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return
	}
	w.stopping, w.stopReason = true, reason
	close(w.stopCh)
	pod := w.pod
	procs := make(map[string]*process, len(w.procs))
	for name, p := range w.procs {
		procs[name] = p
	}
	w.mu.Unlock()
	for name, p := range procs {
		if c := findContainer(pod, name); c != nil {
			w.containerEvent(pod, c, v1.EventTypeNormal, "Killing", "Stopping container "+name)
		}
		go killWithGrace(p, grace)
	}
}

func killWithGrace(p *process, grace time.Duration) {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.signal(syscall.SIGKILL)
	}
}

// killNow is the agent's own shutdown: processes cannot outlive the agent
// meaningfully (their output pipes end with it), so they go at once.
func (w *podWorker) killNow() {
	w.mu.Lock()
	if !w.stopping {
		w.stopping, w.stopReason = true, "shutdown"
		close(w.stopCh)
	}
	for _, p := range w.procs {
		p.signal(syscall.SIGKILL)
	}
	w.mu.Unlock()
}

// sleep waits d unless the pod is being stopped; it reports whether the full
// time passed.
func (w *podWorker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
}

func (w *podWorker) runningContainerID(container string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runIDs[container]
}

// run is the pod's whole life on this node.
func (w *podWorker) run(ctx context.Context) {
	pod := w.currentPod()
	switch {
	case isTerminalPhase(pod.Status.Phase):
		// Done before we saw it (or in an earlier agent run): only deletion is left.
	case w.recovered && podHasStarted(pod):
		w.markLost(ctx, pod)
	default:
		if reason, message, ok := admit(pod, w.k.spec); !ok {
			w.reject(ctx, pod, reason, message)
		} else {
			w.lifecycle(ctx)
		}
	}
	if ctx.Err() != nil {
		return
	}
	w.awaitDeletion(ctx)
	w.cleanup()
}

func isTerminalPhase(p v1.PodPhase) bool { return p == v1.PodSucceeded || p == v1.PodFailed }

// lifecycle runs a pod that was admitted: volumes (the "sandbox"), init
// containers one by one, then all containers in parallel, then the terminal
// status.
func (w *podWorker) lifecycle(ctx context.Context) {
	pod := w.currentPod()
	now := time.Now()
	w.mu.Lock()
	w.state.startTime = now
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		w.update(pod)
	}
	w.push(ctx)

	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil {
		grace := time.Duration(ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
		timer := time.AfterFunc(time.Until(now.Add(time.Duration(*ads)*time.Second)), func() {
			w.requestStop(stopDeadline, grace)
		})
		defer timer.Stop()
	}

	mounts, ok := w.setupSandbox(ctx)
	if ok {
		initOK := true
		for i := range pod.Spec.InitContainers {
			if !w.runContainer(ctx, &pod.Spec.InitContainers[i], w.state.init[i], true, mounts) {
				initOK = false
				break
			}
		}
		if initOK {
			var wg sync.WaitGroup
			for i := range pod.Spec.Containers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.runContainer(ctx, &pod.Spec.Containers[i], w.state.main[i], false, mounts)
				}()
			}
			wg.Wait()
		}
	}
	if ctx.Err() != nil || w.isGone() {
		return
	}
	w.finish(ctx)
}

// setupSandbox prepares the pod's volumes, retrying as the kubelet does while
// a Secret or ConfigMap is missing (FailedMount events, pod stays Pending).
func (w *podWorker) setupSandbox(ctx context.Context) (volumeMounts, bool) {
	pod := w.currentPod()
	for _, d := range []string{w.dirs.logsDir(), w.dirs.root} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			w.podEvent(pod, v1.EventTypeWarning, "Failed", "Error making pod data directories: "+err.Error())
			return nil, false
		}
	}
	warned := false
	for {
		mounts, warnings, err := w.k.volumes.setupVolumes(ctx, pod, w.dirs)
		if !warned {
			for _, msg := range warnings {
				w.podEvent(pod, v1.EventTypeWarning, "FailedMount", msg)
			}
			warned = true
		}
		if err == nil {
			w.mu.Lock()
			w.state.sandboxReady = true
			w.mu.Unlock()
			w.push(ctx)
			return mounts, true
		}
		w.podEvent(pod, v1.EventTypeWarning, "FailedMount", err.Error())
		klog.FromContext(ctx).Info("Volume setup failed, retrying", "err", err)
		if !w.sleep(ctx, configErrorRetryBackoff) {
			return nil, false
		}
	}
}

// finish decides the terminal phase the kubelet would: Failed after the
// deadline, Succeeded if every container exited 0, Failed otherwise.
func (w *podWorker) finish(ctx context.Context) {
	w.mu.Lock()
	st := w.state
	switch {
	case w.stopReason == stopDeadline:
		st.phase = v1.PodFailed
		st.reason = "DeadlineExceeded"
		st.message = "Pod was active on the node longer than the specified deadline"
	case allSucceeded(st):
		st.phase = v1.PodSucceeded
	default:
		st.phase = v1.PodFailed
	}
	w.mu.Unlock()
	w.push(ctx)
}

func allSucceeded(st *podState) bool {
	for _, cs := range [][]*containerRecord{st.init, st.main} {
		for _, c := range cs {
			if c.run == nil || c.run.running() || c.run.exitCode != 0 {
				return false
			}
		}
	}
	return true
}

// awaitDeletion waits for the pod to be deleted and then confirms the
// deletion with grace period 0, as the kubelet's status manager does once the
// pod is terminal: that is what removes the object (after finalizers).
func (w *podWorker) awaitDeletion(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for {
		pod := w.currentPod()
		if w.isGone() {
			return
		}
		if pod.DeletionTimestamp != nil {
			err := w.k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: ptr.To[int64](0),
				Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
			})
			if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				logger.V(2).Info("Pod deletion confirmed")
				return
			}
			logger.Info("Confirming pod deletion failed, retrying", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		select {
		case <-w.updates:
		case <-w.goneCh:
			return
		case <-ctx.Done():
			return
		}
	}
}

// cleanup removes the pod's volumes and scratch dirs once it is deleted, as
// the kubelet's orphaned-pod cleanup does; logs stay for post-mortems.
func (w *podWorker) cleanup() {
	_ = os.RemoveAll(w.dirs.volume(""))
	_ = os.RemoveAll(w.dirs.container(""))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
