package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"dockhand.dev/test/cluster/kubeconfig"
)

func init() {
	register("wait", "wait until the apiserver is ready, controllers run and the given nodes are Ready", runWait)
}

const waitPollInterval = 500 * time.Millisecond

func runWait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	path := fs.String("kubeconfig", "", "kubeconfig to check with (the bed's admin.kubeconfig), required")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after this long")
	nodes := fs.String("nodes", "", "comma-separated Node names that must be Ready (e.g. linux-0,win-ltsc2022-0)")
	_ = fs.Parse(args)
	if *path == "" {
		return errors.New("--kubeconfig is required")
	}
	cfg, err := kubeconfig.Load(*path)
	if err != nil {
		return err
	}
	// Each probe must fail fast so a hung connection cannot eat the budget.
	cfg.Timeout = 5 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	checks := []check{readyz, defaultServiceAccount}
	if names := splitNames(*nodes); len(names) > 0 {
		checks = append(checks, nodesReady(names))
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	for _, c := range checks {
		if err := poll(ctx, client, c); err != nil {
			return fmt.Errorf("bed not ready after %s: %s: %w", time.Since(start).Round(time.Millisecond), c.what, err)
		}
	}
	fmt.Fprintf(os.Stderr, "bed ready after %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// awaitAPIServer blocks until the apiserver at kubeconfigPath answers /readyz
// as that kubeconfig's user. kube-controller-manager exits (and
// kube-scheduler drops authentication) if it starts before the apiserver has
// created the bootstrap RBAC bindings; kubeadm clusters recover from that by
// the kubelet restarting static pods, the bed has no such supervisor.
func awaitAPIServer(ctx context.Context, kubeconfigPath string, timeout time.Duration) error {
	cfg, err := kubeconfig.Load(kubeconfigPath)
	if err != nil {
		return err
	}
	cfg.Timeout = 5 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := poll(ctx, client, readyz); err != nil {
		return fmt.Errorf("kube-apiserver at %s not ready after %s: %w", cfg.Host, timeout, err)
	}
	return nil
}

// check is one readiness condition; ok returns a reason when not yet met.
type check struct {
	what string
	ok   func(context.Context, kubernetes.Interface) (reason string, err error)
}

// poll retries c until it passes or ctx ends, and then reports the last
// reason it was not met: that is what the person reading a CI log needs.
func poll(ctx context.Context, client kubernetes.Interface, c check) error {
	last := "never checked"
	for {
		reason, err := c.ok(ctx, client)
		switch {
		case err != nil && ctx.Err() != nil && last != "never checked":
			// Cut short by the deadline: the previous reason says more.
		case err != nil:
			last = err.Error()
		case reason == "":
			return nil
		default:
			last = reason
		}
		select {
		case <-ctx.Done():
			return errors.New(last)
		case <-time.After(waitPollInterval):
		}
	}
}

var readyz = check{
	what: "kube-apiserver /readyz",
	ok: func(ctx context.Context, client kubernetes.Interface) (string, error) {
		body, err := client.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil && len(body) > 0 {
			// The body lists the failing checks, e.g. "[-]etcd failed".
			return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(body)))
		}
		return "", err
	},
}

// defaultServiceAccount passes once kube-controller-manager's serviceaccount
// controller has run: pods cannot be created in a namespace before its
// `default` ServiceAccount exists, so this is the earliest point the bed is
// usable.
var defaultServiceAccount = check{
	what: "ServiceAccount default/default (kube-controller-manager running?)",
	ok: func(ctx context.Context, client kubernetes.Interface) (string, error) {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "not created yet", nil
		}
		return "", err
	},
}

func nodesReady(names []string) check {
	return check{
		what: "Nodes " + strings.Join(names, ",") + " Ready (node agent running?)",
		ok: func(ctx context.Context, client kubernetes.Interface) (string, error) {
			var notReady []string
			for _, name := range names {
				node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					notReady = append(notReady, name+" (not registered)")
					continue
				}
				if err != nil {
					return "", err
				}
				if !nodeReady(node) {
					notReady = append(notReady, name+" (NotReady)")
				}
			}
			if len(notReady) > 0 {
				return "waiting for " + strings.Join(notReady, ", "), nil
			}
			return "", nil
		},
	}
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func splitNames(list string) []string {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}
