// Package nodeagent stands in for the kubelets of the test bed's nodes. It
// registers Nodes that look like a mixed Linux/Windows cluster, keeps them
// Ready, and runs the pods the real scheduler binds to them: each container's
// command line runs as a local process, with volumes as local directories and
// paths rewritten to them. It reports pod status, serves container logs to
// the API server and confirms pod deletion the way a kubelet does, so that the
// Job controller, garbage collector and `kubectl logs` behave as on a real
// cluster.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Config is what `testcluster nodes` passes in.
type Config struct {
	Client kubernetes.Interface
	// APIServer is the API server URL from the kubeconfig; pods get it as
	// KUBERNETES_SERVICE_HOST/PORT because the kubernetes Service's cluster
	// IP is not routable here (there is no kube-proxy).
	APIServer string
	// Dir is <BED_DIR>/nodes (see layout).
	Dir string
	// DockerSock is the bed dockerd's unix socket.
	DockerSock string
	// ExtraPath is prepended to the agent's PATH for container processes.
	ExtraPath []string
	Nodes     []NodeSpec
	// Images is the Windows nodes' image catalogue (--images); nil lets
	// Windows pods run host commands whatever their image.
	Images *ImageCatalogue
}

// Run registers the nodes and runs them until ctx ends. On return the log
// servers are stopped and local processes killed; Node, Lease and Pod objects
// are left as they are.
func Run(ctx context.Context, cfg Config) error {
	logger := klog.FromContext(ctx)
	if err := validate(cfg); err != nil {
		return err
	}
	lay := layout{dir: cfg.Dir}
	if err := os.MkdirAll(lay.podsDir(), 0o750); err != nil {
		return err
	}
	killLeftovers(logger, lay)

	serviceEnv, err := kubernetesServiceEnv(cfg.APIServer)
	if err != nil {
		return err
	}
	var kubelets []*nodeKubelet
	for _, spec := range cfg.Nodes {
		k, err := newNodeKubelet(cfg, lay, spec, serviceEnv)
		if err != nil {
			return fmt.Errorf("node %s: %w", spec.Name, err)
		}
		kubelets = append(kubelets, k)
	}
	errs := make(chan error, len(kubelets))
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, k := range kubelets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.run(klog.NewContext(runCtx, logger.WithValues("node", k.spec.Name))); err != nil {
				errs <- fmt.Errorf("node %s: %w", k.spec.Name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func validate(cfg Config) error {
	if cfg.Client == nil {
		return errors.New("no API client")
	}
	if !filepath.IsAbs(cfg.Dir) {
		return fmt.Errorf("--dir %q must be an absolute path", cfg.Dir)
	}
	if !filepath.IsAbs(cfg.DockerSock) {
		return fmt.Errorf("--docker-sock %q must be an absolute path", cfg.DockerSock)
	}
	if len(cfg.Nodes) == 0 {
		return errors.New("no nodes to run")
	}
	seen := map[string]bool{}
	ports := map[int32]bool{}
	for _, n := range cfg.Nodes {
		if seen[n.Name] || ports[n.Port] {
			return fmt.Errorf("node table: duplicate name or port at %s:%d", n.Name, n.Port)
		}
		seen[n.Name], ports[n.Port] = true, true
	}
	return nil
}

// killLeftovers kills process groups an earlier agent run left behind (it
// was killed without its shutdown), so a restart starts clean.
func killLeftovers(logger klog.Logger, lay layout) {
	pidFiles, _ := filepath.Glob(filepath.Join(lay.podsDir(), "*", "containers", "*", "pid"))
	for _, f := range pidFiles {
		if killed, err := killLeftoverProcessGroup(f); killed {
			logger.Info("Killed process group left by an earlier node agent run", "pidFile", f, "err", err)
		}
	}
}

// kubernetesServiceEnv is the part of the kubelet's service environment that
// in-cluster clients need, pointed at the real API server address.
func kubernetesServiceEnv(apiServer string) (map[string]string, error) {
	if apiServer == "" {
		return map[string]string{}, nil
	}
	u, err := url.Parse(apiServer)
	if err != nil {
		return nil, fmt.Errorf("API server URL %q: %w", apiServer, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, "443"
	}
	return map[string]string{
		"KUBERNETES_SERVICE_HOST":       host,
		"KUBERNETES_SERVICE_PORT":       port,
		"KUBERNETES_SERVICE_PORT_HTTPS": port,
		"KUBERNETES_PORT":               "tcp://" + net.JoinHostPort(host, port),
	}, nil
}

// Intervals of the kubelet's defaults (KubeletConfiguration).
const (
	nodeLeaseRenewInterval  = 10 * time.Second
	nodeLeaseDurationSecs   = 40
	nodeStatusReportEvery   = time.Minute
	shutdownTimeout         = 5 * time.Second
	configErrorRetryBackoff = 5 * time.Second
)
