package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/klog/v2"

	// The same side-effect imports as upstream's cmd/kube-apiserver,
	// cmd/kube-controller-manager and cmd/kube-scheduler main packages, so
	// the components behave as the released binaries do.
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	_ "time/tzdata"                                       // CronJob time zones
)

// shutdownGrace bounds an upstream component's own graceful shutdown.
const shutdownGrace = 30 * time.Second

// signalHandling says who stops an upstream component on SIGTERM/SIGINT.
type signalHandling int

const (
	// upstreamHandlesSignals: the component installs its own handler
	// (genericapiserver.SetupSignalContext, which panics if installed
	// twice) and shuts down gracefully.
	upstreamHandlesSignals signalHandling = iota
	// exitOnSignal: the component installs no handler (kube-controller-manager
	// uses context.Background() unless the alpha gate
	// ControllerManagerReleaseLeaderElectionLockOnExit is on, see
	// cmd/kube-controller-manager/app/controllermanager.go), so we exit for it.
	exitOnSignal
)

// runUpstream runs an upstream component's cobra command the way its main()
// does (component-base/cli.Run sets up logging flags and normalisation) with
// our flags first and the caller's passthrough flags after them, so a
// passthrough flag overrides ours.
func runUpstream(cmd *cobra.Command, ours, passthrough []string, signals signalHandling) error {
	cmd.SetArgs(append(ours, passthrough...))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	stopped := make(chan struct{})
	go func() {
		sig := <-sigs
		close(stopped)
		if signals == exitOnSignal {
			klog.InfoS("Stopping on signal", "signal", sig.String())
			klog.Flush()
			os.Exit(0)
		}
		// kube-apiserver's shutdown waits for etcd (its lease controllers
		// retry forever), so it hangs if etcd was stopped first. Bound it,
		// and say why, rather than leave the bed's stop script waiting.
		time.Sleep(shutdownGrace)
		klog.ErrorS(nil, "Graceful shutdown did not finish; exiting anyway. Stop etcd last.", "component", cmd.Name(), "grace", shutdownGrace)
		klog.Flush()
		os.Exit(1)
	}()

	if code := cli.Run(cmd); code != 0 {
		select {
		case <-stopped:
			// kube-scheduler without leader election returns "finished
			// without leader elect" after a requested shutdown; a stop we
			// asked for is a clean exit.
			return nil
		default:
			return fmt.Errorf("%s exited with status %d (see its log above)", cmd.Name(), code)
		}
	}
	return nil
}

// defaultAPIServerTimeout is how long kube-controller-manager and kube-scheduler
// wait for kube-apiserver before starting; the bed starts them all at once.
const defaultAPIServerTimeout = 2 * time.Minute

// awaitAPIServerOrSignal waits for kube-apiserver (see awaitAPIServer) and
// reports stopped if SIGTERM/SIGINT came first, which is a clean exit.
func awaitAPIServerOrSignal(kubeconfigPath string, timeout time.Duration) (stopped bool, err error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = awaitAPIServer(ctx, kubeconfigPath, timeout)
	if ctx.Err() != nil { // only a signal cancels ctx; the timeout is inside
		return true, nil
	}
	return false, err
}
