package nodeagent

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// push writes the pod's status as the agent sees it now (pods/status,
// UpdateStatus). It reads the stored pod first so that conditions other
// components own survive, and never moves a pod out of a terminal phase —
// the API server would reject that, and so would the kubelet's status
// manager.
func (w *podWorker) push(ctx context.Context) {
	w.pushStatus(ctx, func(cur *v1.Pod) *v1.PodStatus {
		w.mu.Lock()
		defer w.mu.Unlock()
		s := buildPodStatus(cur, w.state, time.Now())
		return &s
	})
}

// pushStatus applies build to the stored pod and writes the result, retrying
// conflicts. build may return nil to write nothing.
func (w *podWorker) pushStatus(ctx context.Context, build func(cur *v1.Pod) *v1.PodStatus) {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	if ctx.Err() != nil || w.isGone() {
		return
	}
	pod := w.currentPod()
	pods := w.k.client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != w.uid || isTerminalPhase(cur.Status.Phase) {
			return nil
		}
		status := build(cur)
		if status == nil || apiequality.Semantic.DeepEqual(cur.Status, *status) {
			return nil
		}
		cur.Status = *status
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		klog.FromContext(ctx).Error(err, "Updating pod status failed")
	}
}
