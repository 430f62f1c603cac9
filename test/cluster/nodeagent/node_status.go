package nodeagent

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// registerNode creates the Node, or brings an existing one (from an earlier
// run) back to the spec's labels, then posts its status — what the kubelet's
// registerWithAPIServer does. It retries until the API server answers.
//
// Note: a real kubelet authenticates as system:node:<name> (group
// system:nodes) and the NodeRestriction admission plugin limits it to its own
// Node and its pods; the agent uses the bed's admin kubeconfig
// (system:masters) for all three nodes instead.
func (k *nodeKubelet) registerNode(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	want := k.spec.node(kubeletVersion())
	err := wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := k.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				existing, err := k.client.CoreV1().Nodes().Get(ctx, k.spec.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if existing.Labels == nil {
					existing.Labels = map[string]string{}
				}
				for key, v := range want.Labels {
					existing.Labels[key] = v
				}
				if existing.Annotations == nil {
					existing.Annotations = map[string]string{}
				}
				for key, v := range want.Annotations {
					existing.Annotations[key] = v
				}
				// The kubelet registers its taints (--register-with-taints)
				// only on creation; a bed agent restarted with a changed node
				// table should not leave the old ones behind.
				existing.Spec.Taints = want.Spec.Taints
				_, err = k.client.CoreV1().Nodes().Update(ctx, existing, metav1.UpdateOptions{})
				return err
			})
		}
		if err != nil {
			logger.Info("Unable to register node with API server, retrying", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	if err := k.syncNodeStatus(ctx); err != nil {
		return err
	}
	ref := &v1.ObjectReference{Kind: "Node", Name: k.spec.Name, UID: types.UID(k.spec.Name)}
	k.recorder.Event(ref, v1.EventTypeNormal, "Starting", "Starting kubelet.")
	k.recorder.Eventf(ref, v1.EventTypeNormal, "NodeReady", "Node %s status is now: NodeReady", k.spec.Name)
	logger.Info("Node registered")
	return nil
}

// syncNodeStatus posts the node's full status with fresh heartbeats.
func (k *nodeKubelet) syncNodeStatus(ctx context.Context) error {
	want := k.spec.node(kubeletVersion())
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.spec.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds := nodeConditions(node.Status.Conditions, time.Now())
		node.Status = want.Status
		node.Status.Conditions = conds
		if k.holdsImages() {
			node.Status.Images = statusImages(k.imagesDir())
		}
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// nodeConditions are the kubelet's healthy-node conditions with the given
// heartbeat, keeping transition times of conditions whose status is unchanged.
func nodeConditions(old []v1.NodeCondition, now time.Time) []v1.NodeCondition {
	hb := metav1.NewTime(now).Rfc3339Copy()
	conds := []v1.NodeCondition{
		{Type: v1.NodeMemoryPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: v1.NodeDiskPressure, Status: v1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: v1.NodePIDPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = hb
		conds[i].LastTransitionTime = hb
		for _, o := range old {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return conds
}

// runNodeStatusLoop re-posts status now and then. Liveness itself comes from
// the Lease (the node lifecycle controller reads its renewTime); the kubelet
// too only reports unchanged status every few minutes. A change of the
// node's images is posted at once: the kubelet computes status every
// nodeStatusUpdateFrequency (10 s) and posts it when it changed; the bed
// looks every imagesPollEvery, sooner, so tests need not wait.
func (k *nodeKubelet) runNodeStatusLoop(ctx context.Context) {
	post := func() {
		if err := k.syncNodeStatus(ctx); err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Updating node status failed")
		}
	}
	post()
	report := time.NewTicker(nodeStatusReportEvery)
	defer report.Stop()
	poll := time.NewTicker(imagesPollEvery)
	defer poll.Stop()
	seen := imagesFingerprint(k.imagesDir())
	for {
		select {
		case <-ctx.Done():
			return
		case <-report.C:
		case <-k.imagesSync:
		case <-poll.C:
			if !k.holdsImages() {
				continue
			}
			now := imagesFingerprint(k.imagesDir())
			if now == seen {
				continue
			}
			seen = now
		}
		post()
	}
}

// imagesPollEvery is how often the bed looks for images removed from a
// node's store (the emulation's crictl rmi, node_images.go).
const imagesPollEvery = 2 * time.Second

// holdsImages: the node keeps an image store (Windows nodes with a catalogue).
func (k *nodeKubelet) holdsImages() bool { return k.spec.OS == "windows" && k.cfg.Images != nil }

// imagesChanged asks the status loop to post status.images now.
func (k *nodeKubelet) imagesChanged() {
	select {
	case k.imagesSync <- struct{}{}:
	default:
	}
}

// runLease renews kube-node-lease/<node> with the kubelet's own lease
// controller (k8s.io/component-helpers), every 10s for 40s.
func (k *nodeKubelet) runLease(ctx context.Context) {
	c := lease.NewController(clock.RealClock{}, k.client, k.spec.Name, nodeLeaseDurationSecs, nil,
		nodeLeaseRenewInterval, k.spec.Name, v1.NamespaceNodeLease, k.setNodeOwner)
	c.Run(ctx)
}

// setNodeOwner makes the Node own its Lease, as the kubelet does, so deleting
// the Node garbage-collects the Lease.
func (k *nodeKubelet) setNodeOwner(l *coordinationv1.Lease) error {
	if len(l.OwnerReferences) > 0 {
		return nil
	}
	node, err := k.client.CoreV1().Nodes().Get(context.TODO(), k.spec.Name, metav1.GetOptions{})
	if err != nil {
		return nil // retried on the next renewal
	}
	l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	return nil
}
