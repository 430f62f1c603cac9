package main

import (
	"flag"

	"dockhand.dev/test/cluster/pki"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func init() {
	register("controller-manager", "run kube-controller-manager with every default controller until SIGTERM (flags after -- go to it)", runControllerManager)
}

func runControllerManager(args []string) error {
	fs := flag.NewFlagSet("controller-manager", flag.ExitOnError)
	dir := bedDirFlag(fs)
	apiserverTimeout := fs.Duration("apiserver-timeout", defaultAPIServerTimeout, "how long to wait for kube-apiserver /readyz before starting")
	_ = fs.Parse(args)
	l, err := bedLayout(*dir)
	if err != nil {
		return err
	}
	if stopped, err := awaitAPIServerOrSignal(l.ControllerManagerKubeconfig, *apiserverTimeout); stopped || err != nil {
		return err
	}
	return runUpstream(controllermanager.NewControllerManagerCommand(), controllerManagerArgs(l), fs.Args(), exitOnSignal)
}

func controllerManagerArgs(l pki.Layout) []string {
	return []string{
		"--kubeconfig=" + l.ControllerManagerKubeconfig,
		// Delegated authn/authz for its /metrics and /configz; without these
		// it logs warnings and only serves the always-allowed health paths.
		"--authentication-kubeconfig=" + l.ControllerManagerKubeconfig,
		"--authorization-kubeconfig=" + l.ControllerManagerKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=10257",
		"--leader-elect=false",
		// "*" is upstream's default set: job, ttl-after-finished,
		// garbage-collector, podgc, serviceaccount(-token), namespace,
		// daemonset, deployment, replicaset, statefulset, nodelifecycle, ...
		"--controllers=*",
		// Each controller gets its own service account, so RBAC is exercised
		// as in a kubeadm cluster rather than everything running as
		// system:kube-controller-manager.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + l.SAKey,
		"--root-ca-file=" + l.CACert,
		"--cluster-signing-cert-file=" + l.CACert,
		"--cluster-signing-key-file=" + l.CAKey,
		// The node agents share two cores with docker builds and can miss a
		// 50s heartbeat window; a node is marked unreachable only after 2m
		// without a heartbeat. Pods are still evicted the real way, 300s later
		// (kube-apiserver's DefaultTolerationSeconds admission).
		"--node-monitor-grace-period=2m",
		"--node-startup-grace-period=2m",
		"--v=0",
	}
}
