package nodeagent

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// startProbes runs the container's exec readiness probe on Windows nodes, as
// the kubelet's prober does: the instance is not ready until the probe first
// succeeds, turns unready after failureThreshold failures in a row and ready
// again after successThreshold successes. The command goes through the same
// emulation as the container's (docker.exe → the image's docker CLI, paths
// and pipes rewritten), so a dockerd pod is Ready when its engine answers.
// Other probes (HTTP, TCP, gRPC; liveness, startup) are not run: a running
// container is ready, as before.
func (w *podWorker) startProbes(ctx context.Context, pod *v1.Pod, c *v1.Container, run *containerRun, p *process, spec processSpec) {
	if len(spec.readinessArgv) == 0 {
		return
	}
	probe := c.ReadinessProbe
	w.mu.Lock()
	run.probed, run.ready = true, false
	w.mu.Unlock()
	period := secondsOr(probe.PeriodSeconds, 10)
	timeout := secondsOr(probe.TimeoutSeconds, 1)
	success, failure := max(probe.SuccessThreshold, 1), probe.FailureThreshold
	if failure <= 0 {
		failure = 3
	}
	// The kubelet's prober ticks every period from the pod's sync, so the
	// first probe after a start comes within one period; the bed's comes
	// after initialDelaySeconds, or 1 s so a starting server can listen.
	first := secondsOr(probe.InitialDelaySeconds, 1)
	logger := klog.FromContext(ctx).WithValues("container", c.Name)
	go func() {
		if !w.waitProbe(ctx, p, first) {
			return
		}
		var okRun, failRun int32
		for {
			out, err := runProbe(ctx, spec, timeout)
			w.mu.Lock()
			ready := run.ready
			w.mu.Unlock()
			if err == nil {
				okRun, failRun = okRun+1, 0
				if !ready && okRun >= success {
					w.setReady(ctx, run, true)
					logger.V(1).Info("Readiness probe succeeded")
				}
			} else {
				okRun, failRun = 0, failRun+1
				msg := strings.TrimSpace(out)
				if msg == "" {
					msg = err.Error()
				}
				w.containerEvent(pod, c, v1.EventTypeWarning, "Unhealthy", "Readiness probe failed: "+msg)
				if ready && failRun >= failure {
					w.setReady(ctx, run, false)
				}
			}
			if !w.waitProbe(ctx, p, period) {
				return
			}
		}
	}()
}

// waitProbe sleeps d unless the instance exits or the agent stops first.
func (w *podWorker) waitProbe(ctx context.Context, p *process, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	case <-p.exited:
		return false
	case <-ctx.Done():
		return false
	}
}

func (w *podWorker) setReady(ctx context.Context, run *containerRun, ready bool) {
	w.mu.Lock()
	changed := run.ready != ready && run.running()
	run.ready = ready
	w.mu.Unlock()
	if changed {
		w.push(ctx)
	}
}

// runProbe runs the probe command in the container's environment; a non-zero
// exit or a timeout is a failure (the kubelet's exec prober).
func runProbe(ctx context.Context, spec processSpec, timeout time.Duration) (string, error) {
	argv := spec.readinessArgv
	path, err := lookPath(argv[0], envValue(spec.env, "PATH"), spec.dir)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: path, Args: argv, Env: spec.env, Dir: spec.dir, Stdout: &out, Stderr: &out,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("command %q timed out after %s", strings.Join(argv, " "), timeout)
	}
	s := out.String()
	if len(s) > 10*1024 {
		s = s[len(s)-10*1024:]
	}
	return s, err
}

func secondsOr(v int32, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}
