package main

import (
	"flag"

	"dockhand.dev/test/cluster/pki"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func init() {
	register("scheduler", "run kube-scheduler until SIGTERM (flags after -- go to it)", runScheduler)
}

func runScheduler(args []string) error {
	fs := flag.NewFlagSet("scheduler", flag.ExitOnError)
	dir := bedDirFlag(fs)
	apiserverTimeout := fs.Duration("apiserver-timeout", defaultAPIServerTimeout, "how long to wait for kube-apiserver /readyz before starting")
	_ = fs.Parse(args)
	l, err := bedLayout(*dir)
	if err != nil {
		return err
	}
	if stopped, err := awaitAPIServerOrSignal(l.SchedulerKubeconfig, *apiserverTimeout); stopped || err != nil {
		return err
	}
	return runUpstream(scheduler.NewSchedulerCommand(), schedulerArgs(l), fs.Args(), upstreamHandlesSignals)
}

func schedulerArgs(l pki.Layout) []string {
	return []string{
		"--kubeconfig=" + l.SchedulerKubeconfig,
		// Delegated authn/authz for /metrics; see controllerManagerArgs.
		"--authentication-kubeconfig=" + l.SchedulerKubeconfig,
		"--authorization-kubeconfig=" + l.SchedulerKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=10259",
		"--leader-elect=false",
		"--v=0",
	}
}
