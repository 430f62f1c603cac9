package nodeagent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	kubecontainer "k8s.io/kubernetes/pkg/kubelet/container"
)

// Crash-loop back-off of the kubelet: immediate first restart, then 10s
// doubling to 5m, reset after a container ran 10 minutes.
const (
	backOffInitial = 10 * time.Second
	backOffMax     = 5 * time.Minute
	backOffReset   = 10 * time.Minute
)

var errStopping = errors.New("pod is stopping")

// configError is what the kubelet reports as CreateContainerConfigError
// (and retries): a missing Secret/ConfigMap or key, a bad subPath.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }

// runContainer runs one container until it is finished for good under the
// pod's restart policy, and reports whether its last instance succeeded.
func (w *podWorker) runContainer(ctx context.Context, c *v1.Container, rec *containerRecord, isInit bool, mounts volumeMounts) bool {
	pod := w.currentPod()
	img, ok := w.pullImage(ctx, pod, c, rec)
	if !ok {
		return false
	}
	var backoff time.Duration
	for {
		if w.isStopping() || ctx.Err() != nil {
			return false
		}
		spec, err := w.prepare(ctx, pod, c, mounts, img)
		var cfgErr configError
		if errors.As(err, &cfgErr) {
			w.setWaiting(rec, "CreateContainerConfigError", cfgErr.Error())
			w.containerEvent(pod, c, v1.EventTypeWarning, "Failed", "Error: "+cfgErr.Error())
			w.push(ctx)
			if !w.sleep(ctx, configErrorRetryBackoff) {
				return false
			}
			continue
		}

		run := &containerRun{id: "emulated://" + newContainerID()}
		if err == nil {
			if img != nil {
				// A Windows node's catalogue image: pulled once, then present (node_images.go).
				for _, e := range w.k.ensureImage(c, *img) {
					w.containerEvent(pod, c, v1.EventTypeNormal, e[0], e[1])
				}
			} else {
				w.containerEvent(pod, c, v1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image))
			}
			w.rotateLog(c.Name, rec)
			var p *process
			if !osCompatible(img, w.k.spec.windowsBuild(), isHostProcess(pod, c)) {
				klog.FromContext(ctx).Info("Windows emulation: image built for another Windows build than the node's (process isolation)",
					"container", c.Name, "image", c.Image, "imageOSVersion", img.OSVersion, "nodeBuild", w.k.spec.windowsBuild())
				err = errors.New(osMismatchError(strings.TrimPrefix(run.id, "emulated://")))
			} else {
				p, err = w.start(c.Name, run.id, spec)
			}
			if errors.Is(err, errStopping) {
				return false
			}
			if err == nil {
				w.startProbes(ctx, pod, c, run, p, spec)
				w.containerEvent(pod, c, v1.EventTypeNormal, "Created", "Container created")
				w.containerEvent(pod, c, v1.EventTypeNormal, "Started", "Container started")
				w.mu.Lock()
				run.startedAt = p.started
				rec.waiting, rec.run = nil, run
				w.mu.Unlock()
				w.push(ctx)
				<-p.exited
				w.finished(c.Name, run.id)
				reason := terminatedReason(p.exitCode)
				msg := terminationMessage(ctx, c, w.dirs.terminationLog(c.Name), w.dirs.log(c.Name), p.exitCode, reason)
				w.mu.Lock()
				run.finishedAt, run.exitCode, run.reason, run.message = p.finished, p.exitCode, reason, msg
				w.mu.Unlock()
			}
		}
		if err != nil {
			// The runtime could not start it (no command, binary not on PATH):
			// containerd reports exit code 128 with reason StartError.
			now := time.Now()
			w.containerEvent(pod, c, v1.EventTypeWarning, "Failed", "Error: "+err.Error())
			w.mu.Lock()
			run.startedAt, run.finishedAt, run.exitCode, run.reason, run.message = now, now, 128, "StartError", err.Error()
			rec.waiting, rec.run = nil, run
			w.mu.Unlock()
		}
		w.push(ctx)

		succeeded := run.exitCode == 0
		if !shouldRestart(pod.Spec.RestartPolicy, isInit, succeeded) || w.isStopping() || ctx.Err() != nil {
			return succeeded
		}
		if run.finishedAt.Sub(run.startedAt) > backOffReset {
			backoff = 0
		}
		w.mu.Lock()
		rec.lastTerminated, rec.run = run, nil
		rec.restartCount++
		if backoff > 0 {
			rec.waiting = &v1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.Name, podRef(pod)),
			}
		} else {
			rec.waiting = &v1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		w.mu.Unlock()
		if backoff > 0 {
			w.containerEvent(pod, c, v1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.Name, podRef(pod)))
			w.push(ctx)
			if !w.sleep(ctx, backoff) {
				return false
			}
		}
		backoff = min(max(2*backoff, backOffInitial), backOffMax)
	}
}

// Image pull back-off of the kubelet (imageBackOffPeriod, MaxImageBackOff).
// After a failed pull the kubelet syncs the pod again 10-15 s later and finds
// the image in back-off (ImagePullBackOff); the bed does that after
// imagePullResync, sooner, so tests see the second state without waiting.
const (
	imagePullBackOffInitial = 10 * time.Second
	imagePullBackOffMax     = 300 * time.Second
	imagePullResync         = 2 * time.Second
)

// pullImage is the kubelet's EnsureImageExists against the emulated image
// catalogue (Windows nodes only): an image that is not in it fails as a pull
// of a missing tag does, ErrImagePull and then ImagePullBackOff with the
// kubelet's events and back-off, while the pod stays Pending. It returns the
// catalogue entry (nil: host commands, as on Linux nodes).
func (w *podWorker) pullImage(ctx context.Context, pod *v1.Pod, c *v1.Container, rec *containerRecord) (*CatalogueImage, bool) {
	backoff := imagePullBackOffInitial
	for {
		if w.isStopping() || ctx.Err() != nil {
			return nil, false
		}
		img, msg, ok := w.k.resolveImage(c.Image)
		if ok {
			if img != nil {
				klog.FromContext(ctx).V(1).Info("Windows emulation: container image from the catalogue", "container", c.Name,
					"image", img.Reference, "dockerVersion", img.DockerVersion, "osVersion", img.OSVersion, "hostProcess", img.HostProcess, "path", img.Path)
			}
			w.mu.Lock()
			rec.catalogue = img
			w.mu.Unlock()
			return img, true
		}
		klog.FromContext(ctx).Info("Windows emulation: image not in the image catalogue, pull fails", "container", c.Name, "image", c.Image, "catalogue", w.k.cfg.Images.file)
		w.containerEvent(pod, c, v1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
		w.containerEvent(pod, c, v1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", c.Image, msg))
		w.containerEvent(pod, c, v1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		w.setWaiting(rec, "ErrImagePull", msg)
		w.push(ctx)
		if !w.sleep(ctx, imagePullResync) {
			return nil, false
		}
		backOffMsg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		w.containerEvent(pod, c, v1.EventTypeNormal, "BackOff", backOffMsg)
		w.containerEvent(pod, c, v1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
		w.setWaiting(rec, "ImagePullBackOff", backOffMsg+": ErrImagePull: "+msg)
		w.push(ctx)
		if !w.sleep(ctx, backoff-imagePullResync) {
			return nil, false
		}
		backoff = min(2*backoff, imagePullBackOffMax)
	}
}

// shouldRestart applies restartPolicy; init containers restart on failure
// unless the policy is Never (pkg/kubelet/container ShouldContainerBeRestarted).
func shouldRestart(policy v1.RestartPolicy, isInit, succeeded bool) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return !succeeded
	default: // Always
		if isInit {
			return !succeeded
		}
		return true
	}
}

func (w *podWorker) setWaiting(rec *containerRecord, reason, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec.waiting = &v1.ContainerStateWaiting{Reason: reason, Message: message}
	if rec.run != nil && !rec.run.running() {
		rec.lastTerminated = rec.run
	}
	rec.run = nil
}

// start launches the process unless the pod is stopping; the check and the
// registration share the lock with requestStop so no process escapes a kill.
func (w *podWorker) start(name, id string, spec processSpec) (*process, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return nil, errStopping
	}
	p, err := startProcess(spec)
	if err != nil {
		return nil, err
	}
	w.procs[name] = p
	w.runIDs[name] = id
	w.k.running.Store(id, true)
	return p, nil
}

func (w *podWorker) finished(name, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.procs, name)
	if w.runIDs[name] == id {
		delete(w.runIDs, name)
	}
	w.k.running.Delete(id)
}

// rotateLog keeps the instance before a restart as <container>.previous.log
// (served for previous=true) and starts the new instance's log afresh; the
// termination-log file is per instance too.
func (w *podWorker) rotateLog(name string, rec *containerRecord) {
	_ = os.MkdirAll(w.dirs.container(name), 0o750)
	if rec.everStarted() {
		_ = os.Rename(w.dirs.log(name), w.dirs.previousLog(name))
	}
	_ = os.WriteFile(w.dirs.terminationLog(name), nil, 0o666)
}

func (w *podWorker) containerEvent(pod *v1.Pod, c *v1.Container, eventType, reason, message string) {
	ref, err := kubecontainer.GenerateContainerRef(pod, c)
	if err != nil {
		return
	}
	w.k.recorder.Event(ref, eventType, reason, message)
}

func (w *podWorker) podEvent(pod *v1.Pod, eventType, reason, message string) {
	w.k.recorder.Event(pod, eventType, reason, message)
}

func newContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
